// `npm run build:node`: the workers as JavaScript for Node 20 (which cannot run
// .ts): dist/node/<worker>.js, one file each; packages stay in node_modules, so
// run them from inside the project: `node dist/node/order.js`.
import { join } from 'node:path'
import { outdirOption } from './lib/help.ts'
import { projectRoot } from './nats-server-bin.ts'
import { bunTextImports } from './text-imports.ts'

const NODE_WORKERS = ['order', 'inventory', 'payment', 'gateway', 'analytics', 'console'] as const

const USAGE =
  'usage: npm run build:node [-- --outdir <dir>]\n  the workers as JavaScript for Node 20 (default dist/node/<worker>.js)'
const outdir = outdirOption(process.argv.slice(2), USAGE, join(projectRoot, 'dist', 'node'))

const result = await Bun.build({
  entrypoints: NODE_WORKERS.map((w) => join(projectRoot, 'workers', w, 'main.ts')),
  root: join(projectRoot, 'workers'),
  outdir,
  naming: '[dir].[ext]',
  target: 'node',
  format: 'esm',
  packages: 'external',
  sourcemap: 'linked',
  // Packages stay external, but files imported as text are bundled (the docs page's).
  plugins: [bunTextImports()],
})
if (!result.success) {
  for (const log of result.logs) console.error(log)
  process.exit(1)
}
for (const output of result.outputs) {
  if (output.kind === 'entry-point') console.log(`${output.path} (${(output.size / 1024).toFixed(1)} KiB)`)
}
