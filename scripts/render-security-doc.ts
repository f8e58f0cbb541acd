// `npm run docs:security`: rewrites the permission table in docs/security.md from the access table.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { format, resolveConfig } from 'prettier'
import { withPermissionTable } from '../shared/security/permission-table.ts'
import { projectRoot } from './nats-server-bin.ts'

const USAGE = `usage: npm run docs:security
  rewrites the permission table in docs/security.md from shared/security/access.ts (no options)`

const args = process.argv.slice(2)
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE)
  process.exit(0)
}
if (args.length > 0) {
  console.error(`unknown argument ${JSON.stringify(args[0])}\n${USAGE}`)
  process.exit(1)
}

const file = join(projectRoot, 'docs', 'security.md')
const options = (await resolveConfig(file)) ?? {}
writeFileSync(
  file,
  await format(withPermissionTable(readFileSync(file, 'utf8')), { ...options, filepath: file }),
)
console.log(`wrote the permission table into ${file}`)
