/**
 * CPU per POST /orders of the order service at a fixed request rate, the
 * code of another tree (`--base`, e.g. a `git worktree` of the revision
 * before a change) against this one, alternating round by round on one
 * nats-server. A fixed rate below saturation makes the figure steady: the
 * closed-model req/s of the intake section moves by a third from run to run
 * on two shared cores, CPU per request far less.
 *
 *   bun bench/probes/intake-cpu.ts [--base <tree>] [--base-env K=V,...] [--rate 2000] [--seconds 10] [--rounds 3]
 *
 * The order of the trees alternates by round. Prints, per round and tree: requests answered 2xx per second, the
 * service's CPU ms per POST (all threads; its main thread's user and system
 * time apart), nats-server's CPU ms per POST, and the medians by tree.
 * Both trees run from source (`bun workers/order/main.ts`) with the same
 * environment: the bench's identities and keys, the projection elsewhere
 * (`ORDER_PROJECTION=off`, as shipped), `LOG_LEVEL=info`.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { runAutocannon } from '../lib/autocannon.ts'
import { BUN, ROOT } from '../lib/builds.ts'
import { startBenchNats } from '../lib/nats.ts'
import { cpuMs, stopAllProcesses } from '../lib/processes.ts'
import { threadCpuMs } from '../lib/cpu-samples.ts'
import { createBenchSecurity } from '../lib/security.ts'
import { median } from '../lib/stats.ts'
import { startService } from '../lib/services.ts'

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    /** Extra environment of the base tree's service (`K=V,K=V`), e.g. to switch an experiment on. */
    'base-env': { type: 'string', default: '' },
  },
})
const rate = Number(values.rate)
const seconds = Number(values.seconds)
const rounds = Number(values.rounds)
const baseEnv = Object.fromEntries(
  values['base-env']
    .split(',')
    .filter((kv) => kv.includes('='))
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
)
const trees: { name: string; dir: string; env: Record<string, string> }[] = [
  ...(values.base === undefined ? [] : [{ name: 'base', dir: resolve(values.base), env: baseEnv }]),
  { name: 'head', dir: ROOT, env: {} },
]
const log = (line: string): void => void process.stderr.write(`[intake-cpu] ${line}\n`)

const tmp = mkdtempSync(join(tmpdir(), 'intake-cpu-'))
mkdirSync(join(tmp, 'logs'))
const security = await createBenchSecurity()
const nats = await startBenchNats(tmp, security)
interface Row {
  round: number
  tree: string
  rps: number
  cpuPerPost: number
  mainUser: number
  mainSys: number
  serverPerPost: number
  p99: number
}
const rows: Row[] = []
let failed = false
try {
  await security.provision(nats.url)
  const env = { NATS_URL: nats.url, ...(await security.env('order')), ORDER_PROJECTION: 'off' }
  const authorization = security.bearer('client')
  for (let round = 1; round <= rounds; round++) {
    // ABBA: whichever runs first in a round (a growing stream, a warmer cache) does not always favour one tree.
    for (const tree of round % 2 === 1 ? trees : [...trees].reverse()) {
      const svc = await startService({
        name: `order-${tree.name}-${round}`,
        cmd: BUN,
        args: [join(tree.dir, 'workers/order/main.ts')],
        env: { ...env, ...tree.env },
        logDir: join(tmp, 'logs'),
      })
      try {
        const url = `${svc.url}/orders`
        // Warm-up: the JIT's tiers and the connection's buffers settle first.
        await runAutocannon({ url, connections: 16, durationS: 3, authorization, rate })
        const pid = svc.proc.pid
        const [cpu0, threads0, server0] = [cpuMs(pid), threadCpuMs(pid), cpuMs(nats.pid)]
        const run = await runAutocannon({ url, connections: 16, durationS: seconds, authorization, rate })
        const [cpu1, threads1, server1] = [cpuMs(pid), threadCpuMs(pid), cpuMs(nats.pid)]
        // Every answer cost CPU: a run with any non-2xx is reported as such below.
        const posts = run.requests
        const row: Row = {
          round,
          tree: tree.name,
          rps: run.rps,
          cpuPerPost: (cpu1 - cpu0) / posts,
          mainUser: ((threads1['main user'] ?? 0) - (threads0['main user'] ?? 0)) / posts,
          mainSys: ((threads1['main sys'] ?? 0) - (threads0['main sys'] ?? 0)) / posts,
          serverPerPost: (server1 - server0) / posts,
          p99: run.p99,
        }
        rows.push(row)
        log(
          `round ${round} ${tree.name}: ${row.rps.toFixed(0)} req/s, ${row.cpuPerPost.toFixed(4)} ms CPU per POST, non-2xx ${run.non2xx}, errors ${run.errors}`,
        )
      } finally {
        await svc.proc.stop(10_000)
      }
    }
  }
} catch (error) {
  failed = true
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
} finally {
  await stopAllProcesses()
  await nats.stop()
  if (failed) log(`kept ${tmp}`)
  else rmSync(tmp, { recursive: true, force: true })
}

const f = (x: number, d = 4): string => x.toFixed(d)
const lines = [
  `fixed rate ${rate}/s, ${seconds} s per run, ${rounds} rounds, 16 connections`,
  '',
  '| round | tree | req/s | service CPU ms per POST | main thread user / sys | nats-server CPU ms per POST | p99 ms |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map(
    (r) =>
      `| ${r.round} | ${r.tree} | ${r.rps.toFixed(0)} | ${f(r.cpuPerPost)} | ${f(r.mainUser)} / ${f(r.mainSys)} | ${f(r.serverPerPost)} | ${r.p99} |`,
  ),
  '',
  ...trees.map((t) => {
    const mine = rows.filter((r) => r.tree === t.name)
    return `median ${t.name}: service ${f(median(mine.map((r) => r.cpuPerPost)))} ms per POST (main thread ${f(median(mine.map((r) => r.mainUser + r.mainSys)))}), nats-server ${f(median(mine.map((r) => r.serverPerPost)))}`
  }),
]
process.stdout.write(`${lines.join('\n')}\n`)
process.exit(failed ? 1 : 0)
