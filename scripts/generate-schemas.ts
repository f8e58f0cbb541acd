// `npm run schemas`: writes schemas/json/*.json from the Valibot schemas.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { toJsonSchemaFiles } from '../schemas/json-schemas.ts'
import { handleHelp } from './lib/help.ts'

handleHelp(
  process.argv.slice(2),
  `usage: npm run schemas
  writes schemas/json/*.json from the Valibot schemas (and removes files no schema makes)`,
)

const dir = join(import.meta.dirname, '..', 'schemas', 'json')
mkdirSync(dir, { recursive: true })
const files = toJsonSchemaFiles()
for (const name of readdirSync(dir)) {
  if (name.endsWith('.json') && !files.has(name)) rmSync(join(dir, name))
}
for (const [name, text] of files) writeFileSync(join(dir, name), text)
console.log(`wrote ${files.size} JSON Schema files to schemas/json/`)
