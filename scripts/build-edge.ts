// `npm run build:edge`: bundles the Worker exactly as `wrangler deploy` would
// (`--dry-run --outdir`, wrangler.toml), prints its raw and gzipped size and
// fails when the gzipped size is over the budget (docs/runtimes.md, "The order intake as a Cloudflare Worker").
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { gzipSync } from 'node:zlib'
import { outdirOption } from './lib/help.ts'
import { projectRoot } from './nats-server-bin.ts'

/** Our target; Cloudflare allows 3 MiB (free) or 10 MiB (paid) compressed. */
const GZIP_BUDGET_BYTES = 100_000

const USAGE =
  'usage: npm run build:edge [-- --outdir <dir>]\n  bundles the Worker as wrangler deploy would (default dist/edge), prints its size, fails over the 100 KB gzipped budget'
const outdir = outdirOption(process.argv.slice(2), USAGE, join(projectRoot, 'dist', 'edge'))

const wrangler = spawnSync(
  join(projectRoot, 'node_modules', '.bin', 'wrangler'),
  ['deploy', '--dry-run', '--outdir', outdir],
  {
    cwd: projectRoot,
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      NO_COLOR: '1',
    },
    encoding: 'utf8',
    timeout: 120_000,
  },
)
if (wrangler.status !== 0) {
  process.stderr.write(
    `wrangler deploy --dry-run failed (${wrangler.status ?? wrangler.signal}):\n${wrangler.stdout}${wrangler.stderr}\n`,
  )
  process.exit(1)
}

const bundle = join(outdir, 'edge.js')
const code = readFileSync(bundle)
const gzipped = gzipSync(code, { level: 9 }).length
// What Cloudflare counts is wrangler's own figure ("Total Upload: … / gzip: … KiB"),
// zlib at its default level: a few hundred bytes more than level 9. The budget
// holds for the larger of the two.
const reported = /gzip:\s*([\d.]+)\s*KiB/.exec(wrangler.stdout)?.[1]
const wranglerBytes = reported === undefined ? undefined : Math.round(Number(reported) * 1024)
const counted = Math.max(gzipped, wranglerBytes ?? 0)
const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`
console.log(
  `${relative(projectRoot, bundle) || bundle}: ${kib(code.length)} raw, ${kib(gzipped)} gzipped at level 9 (${gzipped} bytes)` +
    (wranglerBytes === undefined
      ? '; wrangler printed no gzip figure'
      : `, ${reported} KiB by wrangler's count (~${wranglerBytes} bytes)`),
)
console.log(
  `budget ${GZIP_BUDGET_BYTES / 1000} KB gzipped, the larger figure: ${counted} bytes; Cloudflare allows 3 MB (free) / 10 MB (paid) after compression`,
)
if (counted > GZIP_BUDGET_BYTES) {
  console.error(`over budget by ${counted - GZIP_BUDGET_BYTES} bytes`)
  process.exit(1)
}
