// `npm run schemas:publish`: freezes every generated schema version that has
// no copy in schemas/published/ yet. A published file is never rewritten:
// a version whose generated schema differs from its frozen copy is reported
// (compatible changes are fine; `npm run schemas:check` says which are not).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { toJsonSchemaFiles } from '../schemas/json-schemas.ts'
import { readJsonFiles, SCHEMA_DIRS } from './lib/schema-dirs.ts'
import { handleHelp } from './lib/help.ts'

handleHelp(
  process.argv.slice(2),
  `usage: npm run schemas:publish
  freezes every generated schema version without a copy in schemas/published/ yet; never rewrites a published file`,
)

const published = readJsonFiles(SCHEMA_DIRS.published)
let frozen = 0
for (const [file, text] of toJsonSchemaFiles()) {
  const copy = published.get(file)
  if (copy === undefined) {
    writeFileSync(join(SCHEMA_DIRS.published, file), text)
    console.log(`published ${file}`)
    frozen++
  } else if (copy !== text) {
    console.log(`kept ${file} (today's schema differs; the frozen copy stays as published)`)
  }
}
console.log(`${frozen} new version(s) published in schemas/published/`)
