/**
 * Where the tail of POST-to-confirmed goes at a steady rate (issues #15, #17).
 *
 *   bun bench/probes/stage-latency.ts [--rate 145] [--seconds 20] [--ping-ms 20] [--compiled] [--trace FILE]
 *
 * The bench's nats-server and saga (bench/lib/saga.ts; workers from source with `bun`, or the
 * project's binaries with --compiled), 1,000 skus, a 4 s warm-up, then orders at `--rate`/s (open
 * model). One core subscription sees every saga event and every order-status write as it is
 * published, on this process's clock; per order it prints the stages (POST sent -> created,
 * -> reserved, -> charged, -> confirmed written), their p50/p99, and the slowest orders with the
 * stage that held each. Meanwhile every worker's `/health` is asked every `--ping-ms`: an answer
 * slower than 15 ms is a stall of that process's event loop (or of its CPU), printed with its time
 * so it can be set beside the slow orders. `--trace FILE` writes the server's traffic around the three
 * slowest orders and the late answers to requests; with PROBE_TRACE_ALL=1, every message to FILE.all.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { connect } from '@nats-io/transport-node'
import { natsAuthOptions } from '../../shared/security/nats-identity.ts'
import { compileProjectWorkers, WORKERS } from '../lib/builds.ts'
import { threadCpuMs } from '../lib/cpu-samples.ts'
import { runGenerator } from '../lib/generator-client.ts'
import { waitConsumersIdle } from '../lib/nats.ts'
import { runProbe, sourceWorkers } from '../lib/probe-stack.ts'
import { parseWorkerEnv, seedStock, SPREAD_SKUS, STACK_CONSUMERS } from '../lib/saga.ts'
import { percentile } from '../lib/stats.ts'

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '145' },
    seconds: { type: 'string', default: '20' },
    'ping-ms': { type: 'string', default: '20' },
    compiled: { type: 'boolean', default: false },
    express: { type: 'boolean', default: false },
    // --closed N: N orders in flight, each user sending its next when the last is confirmed (saturation).
    closed: { type: 'string', default: '0' },
    keep: { type: 'boolean', default: false },
    // --trace FILE: also record every message on the server (a `>` subscription, which doubles the
    // server's fan-out) and write the traffic around each of the slowest orders to FILE.
    trace: { type: 'string' },
  },
})
const [rate, seconds, pingMs] = [Number(values.rate), Number(values.seconds), Number(values['ping-ms'])]
const closed = Number(values.closed)
const log = (m: string): void => void process.stderr.write(`[probe] ${m}\n`)
const load = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ')

const STAGES = ['orders.created', 'inventory.reserved', 'payments.completed', 'confirmed'] as const
const lane = values.express ? '.express' : ''
type Stage = (typeof STAGES)[number]

const tmp = mkdtempSync(join(tmpdir(), 'stage-latency-'))
// PROBE_WRAPPER_ENV='NAME=value ...': set as written for workers from source (runtime options such as BUN_JSC_logGC=1).
const workers = values.compiled
  ? { how: 'compiled', paths: compileProjectWorkers(join(tmp, 'bin')).paths }
  : {
      how: 'bun from source',
      paths: sourceWorkers(join(tmp, 'bin'), { env: process.env['PROBE_WRAPPER_ENV'] ?? '' }),
    }
const workerEnv = parseWorkerEnv('PROBE_WORKER_ENV')
await runProbe(
  { tmp, workers, workerEnv, keep: values.keep, log },
  async ({ nats, security, saga, generator }) => {
    await seedStock(saga.services.inventory.url, security.bearer('admin'), SPREAD_SKUS, 1_000_000_000)
    const drive = async (ms: number) => {
      const r = await runGenerator(generator, {
        ...{ url: saga.services.order.url, warmupMs: 0, durationMs: ms, rate },
        ...(closed > 0
          ? { mode: 'closed' as const, concurrency: closed }
          : { mode: 'open' as const, concurrency: 256 }),
        ...{ skus: [...SPREAD_SKUS], idempotencyKeys: false },
        ...{ natsUrl: nats.url, natsSeed: security.secrets.nats.admin.seed, settleTimeoutMs: 30_000 },
        // --express: every order in the express lane (the admin key may ask for it).
        ...(values.express
          ? { authorization: security.bearer('admin'), priority: 'express' as const }
          : { authorization: security.bearer('client') }),
      })
      await waitConsumersIdle(nats.jsm, 'ORDERS', 60_000, STACK_CONSUMERS)
      return r
    }
    log(`warm-up 4 s at ${rate}/s; load ${load()}`)
    await drive(4_000)

    const seen = new Map<string, Partial<Record<Stage, number>>>()
    const nc = await connect({ servers: nats.url, ...natsAuthOptions(security.secrets.nats.admin.seed) })
    const t0 = performance.now()
    const subs = [...STAGES.slice(0, 3).map((s) => `${s}${lane}`), '$KV.order-status.>'].map((subject) =>
      nc.subscribe(subject, {
        callback: (error, msg) => {
          if (error !== null) return
          const at = performance.now() - t0
          let id: string | undefined
          let stage: Stage | undefined
          if (msg.subject.startsWith('$KV.order-status.')) {
            if (msg.data.length === 0 || !msg.string().includes('"status":"confirmed"')) return
            id = msg.subject.slice('$KV.order-status.'.length)
            stage = 'confirmed'
          } else {
            stage = msg.subject.slice(0, msg.subject.length - lane.length) as Stage
            id = /"orderId":"([^"]+)"/.exec(msg.string())?.[1]
          }
          if (id === undefined || stage === undefined) return
          const times = seen.get(id) ?? {}
          times[stage] ??= at
          seen.set(id, times)
        },
      }),
    )
    const traffic: { at: number; subject: string; reply: string; size: number }[] = []
    if (values.trace !== undefined)
      subs.push(
        nc.subscribe('>', {
          callback: (error, msg) => {
            if (error === null)
              traffic.push({
                at: performance.now() - t0,
                subject: msg.subject,
                reply: msg.reply ?? '',
                size: msg.data.length,
              })
          },
        }),
      )
    await nc.flush()

    const stalls: { at: number; worker: string; ms: number }[] = []
    let pinging = true
    const processes = [
      ['nats-server', nats.pid] as const,
      ...WORKERS.map((w) => [w, saga.services[w].proc.pid] as const),
    ]
    const cpuOf = () => Object.fromEntries(processes.map(([name, pid]) => [name, threadCpuMs(pid)]))
    const ioOf = () =>
      Object.fromEntries(
        processes.map(([name, pid]) => {
          const io = readFileSync(`/proc/${pid}/io`, 'utf8')
          const get = (k: string) => Number(new RegExp(`${k}: (\\d+)`).exec(io)?.[1] ?? 0)
          return [name, { syscw: get('syscw'), syscr: get('syscr') }]
        }),
      )
    // Idle first: what each process spends with no orders (timers, heartbeats, polls).
    const idleBefore = cpuOf()
    await new Promise((r) => setTimeout(r, 10_000))
    const idleAfter = cpuOf()
    const idle = Object.entries(idleAfter).map(([name, after]) => {
      const ms = Object.entries(after).reduce((x, [t, v]) => x + v - (idleBefore[name]?.[t] ?? 0), 0)
      return `${name} ${(ms / 100).toFixed(2)}%`
    })
    const ioBefore = ioOf()
    const cpuBefore = cpuOf()
    const pingers = WORKERS.filter(() => pingMs > 0).map(async (w) => {
      const url = `${saga.services[w].url}/health`
      while (pinging) {
        const start = performance.now()
        await fetch(url, { signal: AbortSignal.timeout(5_000) }).then(
          (r) => r.arrayBuffer(),
          () => undefined,
        )
        const ms = performance.now() - start
        if (ms > 15) stalls.push({ at: start - t0, worker: w, ms })
        await new Promise((r) => setTimeout(r, pingMs))
      }
    })
    log(`measured run ${seconds} s at ${rate}/s; load ${load()}`)
    const result = await drive(seconds * 1000)
    const cpuAfter = cpuOf()
    const ioAfter = ioOf()
    pinging = false
    await Promise.all(pingers)
    for (const sub of subs) sub.unsubscribe()
    await nc.close()

    const rows = [...seen.entries()].filter(([, t]) => STAGES.every((s) => t[s] !== undefined))
    const delta = (t: Partial<Record<Stage, number>>, i: number) => t[STAGES[i]!]! - t[STAGES[i - 1]!]!
    const out: string[] = [
      `${values.express ? 'express' : 'standard'} orders, rate ${rate}/s for ${seconds} s; workers ${values.compiled ? 'compiled' : 'from source'}; load at end ${load()}`,
      `generator: ${result.confirmedPerSec?.toFixed(0)} confirmed/s, confirmed p50/p99 ${result.confirm?.p50.toFixed(1)}/${result.confirm?.p99.toFixed(1)} ms, http p99 ${result.http.p99.toFixed(1)} ms, schedule lag p99 ${result.scheduleLag?.p99.toFixed(1)} ms`,
      `${rows.length} orders seen through every stage; per stage p50 / p99 / max ms (this process's clock):`,
    ]
    for (let i = 1; i < STAGES.length; i++) {
      const d = rows.map(([, t]) => delta(t, i)).sort((a, b) => a - b)
      out.push(
        `  ${STAGES[i - 1]} -> ${STAGES[i]}: ${percentile(d, 50).toFixed(1)} / ${percentile(d, 99).toFixed(1)} / ${d.at(-1)?.toFixed(1)}`,
      )
    }
    const total = rows
      .map(([id, t]) => ({ id, t, ms: t.confirmed! - t['orders.created']! }))
      .sort((a, b) => b.ms - a.ms)
    const totals = total.map((r) => r.ms).sort((a, b) => a - b)
    out.push(
      `  created -> confirmed: ${percentile(totals, 50).toFixed(1)} / ${percentile(totals, 99).toFixed(1)}`,
    )
    out.push('slowest 1% (created at ms: stage deltas):')
    for (const r of total.slice(0, Math.ceil(total.length / 100))) {
      const parts = [1, 2, 3].map((i) => delta(r.t, i).toFixed(1)).join(' / ')
      out.push(`  ${r.t['orders.created']!.toFixed(0).padStart(6)}: ${r.ms.toFixed(1)} = ${parts}`)
    }
    if (values.trace !== undefined) {
      const lines: string[] = []
      for (const r of total.slice(0, 3)) {
        const from = r.t['orders.created']! - 5
        const to = r.t.confirmed! + 5
        lines.push(`== order ${r.id}, created at ${from + 5}, confirmed at ${to - 5}`)
        for (const m of traffic)
          if (m.at >= from && m.at <= to)
            lines.push(
              `${m.at.toFixed(1).padStart(9)} ${m.subject} ${m.reply} ${m.size}${m.subject.includes(r.id) ? '  <<' : ''}`,
            )
      }
      // Every request answered more than 20 ms after it was sent, by its subject.
      const asked = new Map<string, { at: number; subject: string }>()
      lines.push(
        '== requests answered after more than 20 ms, and every JetStream API request but pulls and reads',
      )
      for (const m of traffic) {
        if (m.reply !== '' && m.reply.startsWith('_INBOX'))
          asked.set(m.reply, { at: m.at, subject: m.subject })
        const q = asked.get(m.subject)
        if (q === undefined) continue
        asked.delete(m.subject)
        const api = q.subject.startsWith('$JS.API.') && !/MSG\.(NEXT|GET)/.test(q.subject)
        if (m.at - q.at > 20 || api)
          lines.push(`${q.at.toFixed(1).padStart(9)} +${(m.at - q.at).toFixed(1)} ms ${q.subject}`)
      }
      writeFileSync(values.trace, lines.join('\n') + '\n')
      if (process.env['PROBE_TRACE_ALL'] === '1')
        writeFileSync(
          `${values.trace}.all`,
          traffic.map((m) => `${m.at.toFixed(2)} ${m.subject} ${m.reply} ${m.size}`).join('\n') + '\n',
        )
    }
    const orders = rows.length
    out.push(`idle CPU over 10 s, % of one core: ${idle.join(', ')}`)
    out.push(`CPU ms per order by process (threads, by name):`)
    let sum = 0
    for (const [name, after] of Object.entries(cpuAfter)) {
      const d = Object.entries(after)
        .map(([t, ms]): [string, number] => [t, (ms - (cpuBefore[name]?.[t] ?? 0)) / orders])
        .filter(([, ms]) => ms > 0)
        .sort(([, a], [, b]) => b - a)
      const total = d.reduce((x, [, ms]) => x + ms, 0)
      sum += total
      out.push(
        `  ${name.padEnd(13)} ${total.toFixed(2)}: ${d
          .slice(0, 7)
          .map(([t, ms]) => `${t} ${ms.toFixed(2)}`)
          .join(', ')}`,
      )
    }
    out.push(`  all           ${sum.toFixed(2)}`)
    out.push('write / read syscalls per order by process (/proc/<pid>/io):')
    for (const [name, after] of Object.entries(ioAfter)) {
      const before = ioBefore[name]!
      out.push(
        `  ${name.padEnd(13)} ${((after.syscw - before.syscw) / orders).toFixed(2)} / ${((after.syscr - before.syscr) / orders).toFixed(2)}`,
      )
    }
    out.push(`health answers over 15 ms (${stalls.length}):`)
    for (const s of stalls.sort((a, b) => a.at - b.at))
      out.push(`  ${s.at.toFixed(0).padStart(6)} ${s.worker} ${s.ms.toFixed(1)} ms`)
    return out
  },
)
