// Where the order service's CPU goes under intake load: `bun --cpu-prof-md`
// on `bun run workers/order/main.ts` (the same code as the binary) while
// autocannon drives POST /orders; self time grouped by package, and the
// inclusive share of the frames that matter.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BUN, ROOT } from '../lib/builds.ts'
import type { BenchContext } from '../lib/context.ts'
import { startService } from '../lib/services.ts'
import { waitFor } from '../../test/harness/wait-for.ts'
import { runAutocannon } from '../lib/autocannon.ts'
import { CONNECTIONS } from './measure.ts'

export interface CpuProfileResult {
  seconds: number
  samples: number
  /** Self time by package (`native` = Bun's own code, `runtime` = its node: compat layer in JS). */
  byPackage: Record<string, number>
  /** Inclusive share of key frames, percent. */
  frames: Record<string, number>
  /** The heaviest functions by self time. */
  top: { selfPct: number; fn: string; location: string }[]
}

const FRAMES: Record<string, (fn: string, loc: string) => boolean> = {
  'NATS socket writes (flushPending)': (fn, loc) => fn === 'flushPending' && loc.includes('nats-core'),
  'JetStream publish of orders.created': (fn) => fn === 'async publishCreated',
  'idempotency / placeOrder (all NATS work of the intake)': (fn) => fn === 'guard',
  'Error objects built by nats.js per request': (fn) => fn === 'Error',
  'API key check (SHA-256 of the presented key)': (fn, loc) =>
    /^(async )?verify$/.test(fn) && loc.includes('api-keys'),
  'card token sealing (AES-GCM)': (fn, loc) => /^(async )?seal$/.test(fn) && loc.includes('sealed-token'),
}

interface Row {
  selfPct: number
  totalPct: number
  fn: string
  location: string
}

function parseTable(md: string, heading: string, selfFirst: boolean): Row[] {
  const start = md.indexOf(heading)
  if (start < 0) return []
  const rows: Row[] = []
  for (const line of md.slice(start).split('\n').slice(4)) {
    if (!line.startsWith('|')) break
    const cells = line.split('|').map((c) => c.trim())
    const pct = (i: number): number => Number((cells[i] ?? '').replace('%', ''))
    const [self, total] = selfFirst ? [pct(1), pct(3)] : [pct(3), pct(1)]
    rows.push({
      selfPct: self,
      totalPct: total,
      fn: (cells[5] ?? '').replace(/`/g, ''),
      location: (cells[6] ?? '').replace(/`/g, ''),
    })
  }
  return rows
}

function packageOf(location: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(location)
  if (m?.[1] !== undefined) return m[1]
  if (location.includes('[native code]')) return 'native'
  if (location.startsWith('internal:') || location.startsWith('node:')) return 'runtime'
  return 'project'
}

export async function profileOrderIntake(ctx: BenchContext): Promise<CpuProfileResult> {
  const dir = join(ctx.tmp, 'cpu-profile')
  mkdirSync(dir, { recursive: true })
  const svc = await startService({
    name: 'profile-order',
    cmd: BUN,
    args: ['--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${dir}`, 'workers/order/main.ts'],
    // As shipped: the projection runs in another process (order-status), not profiled here.
    env: { NATS_URL: ctx.nats.url, ...(await ctx.security.env('order')), ORDER_PROJECTION: 'off' },
    logDir: ctx.logDir,
  })
  try {
    await runAutocannon({
      url: `${svc.url}/orders`,
      connections: CONNECTIONS,
      durationS: ctx.settings.closedSeconds,
      authorization: ctx.security.bearer('client'),
    })
  } finally {
    await svc.proc.stop(10_000)
  }
  const file = await waitFor(() => readdirSync(dir).find((f) => f.endsWith('.md')), {
    timeoutMs: 10_000,
    message: 'the CPU profile',
  })
  const md = readFileSync(join(dir, file), 'utf8')
  // The whole profile, for reading beyond the summary below.
  const keep = process.env.BENCH_PROFILE_OUT
  if (keep !== undefined && keep !== '') writeFileSync(keep, md)
  const head = /\| ([\d.]+)s \| (\d+) \|/.exec(md)
  const hot = parseTable(md, '## Hot Functions (Self Time)', true)
  const tree = parseTable(md, '## Call Tree (Total Time)', false)
  const byPackage: Record<string, number> = {}
  for (const r of hot) byPackage[packageOf(r.location)] = (byPackage[packageOf(r.location)] ?? 0) + r.selfPct
  const frames: Record<string, number> = {}
  for (const [name, match] of Object.entries(FRAMES)) {
    const hits = [...tree, ...hot].filter((r) => match(r.fn, r.location))
    frames[name] = Math.max(0, ...hits.map((r) => r.totalPct))
  }
  const round = (x: number): number => Math.round(x * 10) / 10
  return {
    seconds: Number(head?.[1] ?? Number.NaN),
    samples: Number(head?.[2] ?? Number.NaN),
    byPackage: Object.fromEntries(
      Object.entries(byPackage)
        .sort(([, a], [, b]) => b - a)
        .map(([k, v]): [string, number] => [k, round(v)]),
    ),
    frames,
    top: hot.slice(0, 15).map((r) => ({
      selfPct: r.selfPct,
      fn: r.fn,
      location: r.location.replace(/^.*\/node_modules\//, '').replace(`${ROOT}/`, ''),
    })),
  }
}
