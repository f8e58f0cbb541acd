// `npm run schemas:check`: today's JSON Schemas against the frozen copies of
// every published version (schemas/published/); exits 1 naming each breaking
// change. The same check runs in `npm test` (schemas/compatibility.test.ts).
import { checkPublished, describeReport } from '../schemas/compatibility.ts'
import { toJsonSchemaFiles } from '../schemas/json-schemas.ts'
import { readJsonFiles, SCHEMA_DIRS } from './lib/schema-dirs.ts'

const published = readJsonFiles(SCHEMA_DIRS.published)
const problems = describeReport(checkPublished(published, toJsonSchemaFiles()))
for (const line of problems) console.error(line)
if (problems.length > 0) process.exit(1)
console.log(`${published.size} published schema versions: compatible`)
