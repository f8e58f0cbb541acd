/**
 * Where each saga worker's CPU goes per confirmed order under steady end-to-end load (issue #17).
 *
 *   bun bench/probes/worker-profiles.ts [--rate 120] [--seconds 25] [--top 25] [--keep]
 *
 * The bench's nats-server and saga (bench/lib/saga.ts, unchanged: each "binary" is a one-line
 * `exec bun --cpu-prof --cpu-prof-md workers/<name>/main.ts` wrapper), 1,000 skus seeded, a 4 s
 * warm-up, then `--seconds` of orders at `--rate`/s (open model, 1 item each); SIGTERM writes the
 * profiles. Prints per process: CPU ms per confirmed order (/proc, by thread), NATS messages;
 * from each .cpuprofile, only samples inside the window, counted (the profile's time deltas charge
 * idle gaps to the next sample): packages, frame groups (inclusive), top functions by self
 * samples. Last, NATS messages per order by worker and kind from a `>` subscription during a
 * separate short run (outside the CPU window: it doubles the server's fan-out).
 */
import { mkdirSync, mkdtempSync, readdirSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { GRANTS, inboxPrefixOf } from '../../shared/security/access.ts'
import { waitFor } from '../../test/harness/wait-for.ts'
import { ROOT, WORKER_ENTRY, WORKERS } from '../lib/builds.ts'
import { countSamples, threadCpuMs } from '../lib/cpu-samples.ts'
import { runGenerator } from '../lib/generator-client.ts'
import { connectionCounters, subjectCounts, waitConsumersIdle, type BenchNats } from '../lib/nats.ts'
import { runProbe, sourceWorkers } from '../lib/probe-stack.ts'
import { seedStock, SPREAD_SKUS, STACK_CONSUMERS } from '../lib/saga.ts'
import type { BenchSecurity } from '../lib/security.ts'

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '120' },
    seconds: { type: 'string', default: '25' },
    top: { type: 'string', default: '25' },
    keep: { type: 'boolean', default: false },
  },
})
const [rate, seconds, topN] = [Number(values.rate), Number(values.seconds), Number(values.top)]
const log = (m: string): void => void process.stderr.write(`[probe] ${m}\n`)
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ')
const CONFIRMED = 'payments.completed'

/** Frame groups, matched on `<function> <url>` (url '' for native code); a sample counts once per group. */
const GROUPS: [string, RegExp][] = [
  ['nats-core', /@nats-io\/nats-core/],
  ['jetstream + kv client', /@nats-io\/(jetstream|kv)\//],
  ['socket write (node:net)', /^writeBuffered |node:net/],
  ['NATS headers (build, decode, CloudEvents)', /nats-core\/lib\/headers\.js|shared\/nats\/cloudevents\.ts/],
  ['Error objects', /^\w*Error ($|.*errors)/],
  ['shared/nats/consumer.ts', /shared\/nats\/consumer\.ts/],
  ['KV read-modify-write (kv-json.ts)', /shared\/nats\/kv-json\.ts/],
  ['pino', /\/(pino|@pinojs|sonic-boom|thread-stream)\//],
  ['prom-client', /\/prom-client\//],
  ['valibot', /\/valibot\//],
  ['tracing (shared/observability, OTel)', /@opentelemetry|observability\/(trac|otel)/],
  ['JSON.parse/stringify', /^(parse|stringify) $/],
  ['crypto', /crypto|sealed-token|^(digest|decrypt|encrypt|importKey|randomUUID|getRandomValues) $/],
  ['hono', /\/hono\//],
]

function report(file: string, fromUs: number, toUs: number): string[] {
  const c = countSamples(file, { fromUs, toUs, root: ROOT, groups: GROUPS })
  const pct = (x: number): string => `${((100 * x) / Math.max(1, c.samples)).toFixed(1)}%`.padStart(6)
  const sorted = (m: Map<string, number>): [string, number][] => [...m].sort(([, a], [, b]) => b - a)
  const list = (m: Map<string, number>, n: number): string =>
    sorted(m)
      .slice(0, n)
      .map(([k, v]) => `${k} ${pct(v).trim()}`)
      .join(', ')
  const project = sorted(c.inclusive).filter(([k]) => / {2}(workers|shared)\//.test(k))
  return [
    `  JS samples in the window: ${c.samples} (~1 per ms of JS on the main thread)`,
    `  self by package: ${list(c.packages, 8)}`,
    `  groups, inclusive: ${list(c.groups, GROUPS.length)}`,
    `  top ${topN} by self (self, inclusive):`,
    ...sorted(c.self)
      .slice(0, topN)
      .map(([k, v]) => `   ${pct(v)} ${pct(c.inclusive.get(k) ?? 0)}  ${k}`),
    '  project frames by inclusive:',
    ...project.slice(0, 10).map(([k, v]) => `   ${pct(v)}  ${k}`),
  ]
}

const tmp = mkdtempSync(join(tmpdir(), 'worker-profiles-'))
for (const w of WORKERS) mkdirSync(join(tmp, 'prof', w), { recursive: true })
const paths = sourceWorkers(join(tmp, 'bin'), {
  flags: (w) => `--cpu-prof --cpu-prof-md --cpu-prof-dir=${join(tmp, 'prof', w)}`,
})
const workers = { how: '`bun --cpu-prof` from source', paths }
await runProbe({ tmp, workers, keep: values.keep, log }, async ({ nats, security, saga, generator }) => {
  const pids: Record<string, number> = { 'nats-server': nats.pid }
  for (const w of WORKERS) pids[w] = saga.services[w].proc.pid
  const drive = async (ms: number): Promise<void> => {
    const r = await runGenerator(generator, {
      ...{ url: saga.services.order.url, mode: 'open', concurrency: 256, rate, warmupMs: 0, durationMs: ms },
      ...{ skus: [...SPREAD_SKUS], idempotencyKeys: false, authorization: security.bearer('client') },
      ...{ natsUrl: nats.url, natsSeed: security.secrets.nats.admin.seed, settleTimeoutMs: 30_000 },
    })
    const [p50, p99] = [r.confirm?.p50.toFixed(0), r.confirm?.p99.toFixed(0)]
    log(
      `${r.sent} sent, ${r.confirmedPerSec?.toFixed(1)}/s confirmed, p50/p99 ${p50}/${p99} ms, errors ${r.errors}`,
    )
    await waitConsumersIdle(nats.jsm, 'ORDERS', 60_000, STACK_CONSUMERS)
  }
  const confirmed = async (): Promise<number> => (await subjectCounts(nats.jsm, 'ORDERS'))[CONFIRMED] ?? 0
  const snap = async () => ({
    at: Date.now() * 1000,
    cpu: Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, threadCpuMs(pid)])),
    confirmed: await confirmed(),
    conns: await connectionCounters(nats.monitorUrl),
  })
  const out: string[] = []
  await seedStock(saga.services.inventory.url, security.bearer('admin'), SPREAD_SKUS, 1_000_000_000)
  log(`warm-up 4 s at ${rate}/s; load ${load()}`)
  await drive(4_000)
  const a = await snap()
  log(`measured run ${seconds} s at ${rate}/s; load ${load()}`)
  await drive(seconds * 1000)
  const b = await snap()
  const orders = b.confirmed - a.confirmed
  const per = (x: number): string => (x / orders).toFixed(2)
  out.push(`${orders} confirmed orders in ${seconds} s; load at end ${load()}; CPU ms per confirmed order:`)
  for (const k of Object.keys(pids)) {
    const d = Object.entries(b.cpu[k] ?? {}).map(([t, ms]): [string, number] => [
      t,
      ms - (a.cpu[k]?.[t] ?? 0),
    ])
    const threads = d.filter(([, ms]) => ms > 0).sort(([, x], [, y]) => y - x)
    const [sent, got] = [b.conns[k], a.conns[k]].map((c) => c ?? { inMsgs: 0, outMsgs: 0 })
    const msgs = `NATS msgs sent ${per(sent!.inMsgs - got!.inMsgs)}, received ${per(sent!.outMsgs - got!.outMsgs)}`
    out.push(
      `  ${k.padEnd(13)} ${per(d.reduce((s, [, ms]) => s + ms, 0)).padStart(5)}  ${k === 'nats-server' ? '' : msgs}`,
    )
    const top = threads.slice(0, 6).map(([t, ms]) => `${t} ${per(ms)}`)
    out.push(`    threads: ${top.join(', ')}`)
  }
  out.push(...(await census(nats, security, drive, confirmed)))
  await Promise.all(WORKERS.map((w) => saga.services[w].proc.stop(20_000)))
  for (const w of WORKERS) {
    const dir = join(tmp, 'prof', w)
    const file = await waitFor(() => readdirSync(dir).find((f) => f.endsWith('.cpuprofile')), {
      ...{ timeoutMs: 10_000, message: `${w}'s profile` },
    })
    out.push(`== ${w} (${WORKER_ENTRY[w]})`, ...report(join(dir, file), a.at, b.at))
  }
  return out
})

/** NATS messages per confirmed order by worker and kind: who sent it from its reply inbox or ack subject. */
async function census(
  nats: BenchNats,
  security: BenchSecurity,
  drive: (ms: number) => Promise<void>,
  confirmed: () => Promise<number>,
): Promise<string[]> {
  const owner = new Map([[inboxPrefixOf(security.secrets.nats.admin.publicKey), 'bench']])
  for (const w of WORKERS)
    if (w !== 'gateway') owner.set(inboxPrefixOf(security.secrets.nats[w].publicKey), w)
  const consumerOwner = new Map<string, string>()
  for (const w of ['order-status', 'inventory', 'payment'] as const)
    for (const c of GRANTS[w].consumers) consumerOwner.set(c, w)
  const kind = (s: string): string =>
    s.startsWith('$KV.')
      ? `KV put ${s.split('.')[1]}`
      : s.startsWith('$JS.')
        ? s.split('.').slice(0, 6).join('.')
        : `publish ${s.split('.').slice(0, 2).join('.')}`
  const counts = new Map<string, number>()
  const sub = nats.nc.subscribe('>', {
    callback: (_e, m) => {
      const [s, r] = [m.subject, m.reply ?? '']
      const key = r.startsWith('$JS.ACK.')
        ? `${consumerOwner.get(r.split('.')[3] ?? '')} <- delivery ${s}`
        : owner.has(s.split('.')[0] ?? '')
          ? `${owner.get(s.split('.')[0] ?? '')} <- reply`
          : s.startsWith('$JS.ACK.')
            ? `${consumerOwner.get(s.split('.')[3] ?? '')} -> ack`
            : `${owner.get(r.split('.')[0] ?? '') ?? '(no reply)'} -> ${kind(s)}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    },
  })
  const before = await confirmed()
  await drive(6_000)
  sub.unsubscribe()
  const orders = (await confirmed()) - before
  return [
    `NATS messages per confirmed order by worker and kind (\`>\` census, a separate run of ${orders} orders):`,
    ...[...counts]
      .sort(([x], [y]) => x.localeCompare(y))
      .map(([k, v]) => `  ${(v / orders).toFixed(2).padStart(6)}  ${k}`),
  ]
}
