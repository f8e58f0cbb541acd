// `npm run schemas:check`: today's JSON Schemas against the frozen copies of
// every published version (schemas/published/), and each frozen copy against
// the commit that added it; exits 1 naming each problem. The same check runs in `npm test` (schemas/compatibility.test.ts).
import { checkPublished, describeReport, revisionsOf } from '../schemas/compatibility.ts'
import { toJsonSchemaFiles } from '../schemas/json-schemas.ts'
import { frozenProblems, readJsonFiles, SCHEMA_DIRS } from './lib/schema-dirs.ts'
import { handleHelp } from './lib/help.ts'

handleHelp(
  process.argv.slice(2),
  `usage: npm run schemas:check
  compares today's JSON Schemas with every published version (schemas/published/) and each frozen copy with its commit; exits 1 naming each problem`,
)

const published = readJsonFiles(SCHEMA_DIRS.published)
const frozen = frozenProblems(published)
if (frozen === undefined)
  console.warn('not a git checkout: the published files are not compared with their commits')
const problems = [...(frozen ?? []), ...describeReport(checkPublished(published, toJsonSchemaFiles()))]
for (const line of problems) console.error(line)
if (problems.length > 0) process.exit(1)
console.log(
  `${revisionsOf(published).size} published schema versions (${published.size} frozen revisions): frozen and compatible`,
)
