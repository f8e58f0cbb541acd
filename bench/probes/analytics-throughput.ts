/**
 * How fast does the analytics worker apply events, live and in a replay?
 *
 *   bun bench/probes/analytics-throughput.ts [--orders 3000]
 *
 * Fills ORDERS (shipped settings, NKEY authentication, provisioned as in
 * production) with the events of `--orders` confirmed orders (orders.created
 * and payments.completed: 2 analytics events each, plus an inventory.reserved
 * it does not read), then starts the analytics worker (`bun run`) and times
 * its durable consumer draining the backlog (one event at a time, in stream
 * order: max_ack_pending 1); then restarts it with a replay from the start
 * and reads the replay's own log lines for its duration. Prints events/s, and the live
 * drain's CPU (all the worker's threads) per order.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { jetstream } from '@nats-io/jetstream'
import { headers } from '@nats-io/nats-core'
import { STREAMS, SUBJECTS } from '../../schemas/subjects.ts'
import { spawnService, type ServiceHandle } from '../../test/harness/process.ts'
import { waitFor } from '../../test/harness/wait-for.ts'
import { threadCpuMs } from '../lib/cpu-samples.ts'
import { startBenchNats } from '../lib/nats.ts'
import { createBenchSecurity } from '../lib/security.ts'

const { values } = parseArgs({ options: { orders: { type: 'string', default: '3000' } } })
const orders = Number(values.orders)
const ROOT = join(import.meta.dirname, '..', '..')
const BUN = join(ROOT, 'node_modules', '.bin', 'bun')

const dir = await mkdtemp(join(tmpdir(), 'analytics-probe-'))
const security = await createBenchSecurity()
const nats = await startBenchNats(dir, security)
const workers: ServiceHandle[] = []
try {
  await security.provision(nats.url)
  const js = jetstream(nats.nc, { timeout: 10_000 })
  const t0 = Date.parse('2026-01-01T00:00:00Z')
  const publish = (subject: string, payload: unknown) => {
    const h = headers()
    h.set('Event-Version', subject === SUBJECTS.orderCreated ? '2' : '1')
    // Every publisher sets it: the consumers refuse an event without it.
    h.set('X-Correlation-ID', `probe-${(payload as { orderId: string }).orderId}`)
    return js.publish(subject, JSON.stringify(payload), { headers: h })
  }
  for (let i = 0; i < orders; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, orders - i) }, async (_, j) => {
        const n = i + j
        const orderId = `0190f0f0-0000-7000-8000-${n.toString(16).padStart(12, '0')}`
        const at = (ms: number) => new Date(t0 + n * 20 + ms).toISOString()
        const base = { version: 1, orderId }
        const items = [{ sku: `SKU-${n % 50}`, quantity: 1 + (n % 3) }]
        await publish(SUBJECTS.orderCreated, {
          ...base,
          version: 2,
          occurredAt: at(0),
          customer: { id: 'probe' },
          items,
          sealedPaymentToken: 'sealed.v1.probe',
        })
        await publish(SUBJECTS.inventoryReserved, {
          ...base,
          occurredAt: at(5),
          items: items.map((it) => ({ ...it, unitPriceCents: 100 })),
          amountCents: 100,
          currency: 'USD',
          sealedPaymentToken: 'sealed.v1.probe',
        })
        await publish(SUBJECTS.paymentCompleted, {
          ...base,
          occurredAt: at(15),
          chargeId: `ch_${n}`,
          amountCents: 100,
          currency: 'USD',
        })
      }),
    )
  }
  const events = 2 * orders
  const start = async (env: Record<string, string> = {}) => {
    const worker = await spawnService({
      cmd: BUN,
      args: ['run', 'workers/analytics/main.ts'],
      cwd: ROOT,
      env: { ...(await security.env('analytics')), NATS_URL: nats.url, PORT: '0', LOG_LEVEL: 'info', ...env },
      readyLine: /"msg":"analytics listening"/,
      readyTimeoutMs: 600_000,
    })
    workers.push(worker)
    return worker
  }

  const spawned = Date.now()
  const live = await start()
  const firstAck = await waitFor(
    async () =>
      (await nats.jsm.consumers.info(STREAMS.orders.name, 'analytics')).ack_floor.stream_seq > 0
        ? Date.now()
        : 0,
    { timeoutMs: 60_000, intervalMs: 5, message: 'first event applied' },
  )
  const cpuMs = () => Object.values(threadCpuMs(live.pid)).reduce((sum, ms) => sum + ms, 0)
  const cpuAtFirstAck = cpuMs()
  const drained = await waitFor(
    async () => {
      const info = await nats.jsm.consumers.info(STREAMS.orders.name, 'analytics')
      return info.num_pending === 0 && info.num_ack_pending === 0 ? Date.now() : 0
    },
    { timeoutMs: 30 * 60_000, intervalMs: 50, message: 'backlog drained' },
  )
  // The worker's CPU (every thread) over the drain, per order of the backlog (2 analytics events each).
  const liveCpuMsPerOrder = (cpuMs() - cpuAtFirstAck) / orders
  await live.stop(10_000)
  const liveMs = drained - firstAck

  const replay = await start({ ANALYTICS_REPLAY_FROM: '2000-01-01T00:00:00Z' })
  const stamp = (msg: string) => {
    const line = replay.lines().find((l) => l.includes(`"msg":"${msg}"`)) ?? '{}'
    return Date.parse((JSON.parse(line) as { time?: string }).time ?? '')
  }
  const replayMs = stamp('replay: windows rebuilt and swapped') - stamp('replay: rebuilding windows')
  await replay.stop(10_000)

  const rate = (ms: number) => Math.round((events / ms) * 1000)
  console.log(
    JSON.stringify({
      orders,
      analyticsEvents: events,
      streamMessages: 3 * orders,
      startToFirstAckMs: firstAck - spawned,
      live: {
        ms: liveMs,
        eventsPerSecond: rate(liveMs),
        cpuMsPerOrder: Number(liveCpuMsPerOrder.toFixed(2)),
      },
      replay: { ms: replayMs, eventsPerSecond: rate(replayMs) },
    }),
  )
} finally {
  await Promise.allSettled(workers.map((w) => w.stop(5_000)))
  await nats.stop()
  await rm(dir, { recursive: true, force: true })
}
