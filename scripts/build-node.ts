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

/** The order-status projection as its own service (`ORDER_PROJECTION=off` on the intakes, as compose runs it). */
const SEPARATE_ENTRIES = { 'order-status': join(projectRoot, 'workers', 'order', 'status-main.ts') } as const

const common = {
  target: 'node',
  format: 'esm',
  packages: 'external',
  sourcemap: 'linked',
  // Packages stay external, but files imported as text are bundled (the docs page's).
  plugins: [bunTextImports()],
} satisfies Partial<Bun.BuildConfig>

const builds = [
  await Bun.build({
    ...common,
    entrypoints: NODE_WORKERS.map((w) => join(projectRoot, 'workers', w, 'main.ts')),
    root: join(projectRoot, 'workers'),
    outdir,
    naming: '[dir].[ext]',
  }),
  ...(await Promise.all(
    Object.entries(SEPARATE_ENTRIES).map(([name, entry]) =>
      Bun.build({ ...common, entrypoints: [entry], outdir, naming: `${name}.[ext]` }),
    ),
  )),
]
for (const result of builds) {
  if (!result.success) {
    for (const log of result.logs) console.error(log)
    process.exit(1)
  }
}
for (const output of builds.flatMap((result) => result.outputs)) {
  if (output.kind === 'entry-point') console.log(`${output.path} (${(output.size / 1024).toFixed(1)} KiB)`)
}
