// `npm run schemas:publish`: freezes every generated schema version that has
// no copy in schemas/published/ yet, and every version changed compatibly
// since its last frozen revision as its next revision
// (`<name>.v<N>.r<M>.json`), so what the change added is checked from then
// on. A published file is never rewritten, and a breaking change is never
// frozen: it is named, and the run exits 1 (a new version is due instead).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkPublished, describeReport } from '../schemas/compatibility.ts'
import { toJsonSchemaFiles } from '../schemas/json-schemas.ts'
import { readJsonFiles, SCHEMA_DIRS } from './lib/schema-dirs.ts'
import { handleHelp } from './lib/help.ts'

handleHelp(
  process.argv.slice(2),
  `usage: npm run schemas:publish
  freezes every generated schema version without a copy in schemas/published/ yet, and every version changed
  compatibly since its last frozen revision as its next revision; never rewrites a published file`,
)

const published = readJsonFiles(SCHEMA_DIRS.published)
const today = toJsonSchemaFiles()
const report = checkPublished(published, today)
const freeze = [
  ...report.unpublished.map((file) => ({ file, from: file })),
  ...report.unfrozen.map(({ file, next }) => ({ file: next, from: file })),
]
for (const { file, from } of freeze) {
  writeFileSync(join(SCHEMA_DIRS.published, file), today.get(from) ?? '')
  console.log(`published ${file}`)
}
console.log(`${freeze.length} new version(s) or revision(s) published in schemas/published/`)
const left = describeReport({ ...report, unpublished: [], unfrozen: [] })
for (const line of left) console.error(line)
if (left.length > 0) process.exit(1)
