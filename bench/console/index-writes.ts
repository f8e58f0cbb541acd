/**
 * What keeping the console's order index costs the projection's path: the
 * same live load of orders projected without and with the index writer.
 *
 *   bun bench/console/index-writes.ts [--rate 300] [--seconds 20] [--delay 250,0]
 *
 * Each variant gets a fresh nats-server (shipped settings, NKEY
 * authentication, provision step). Orders arrive at `--rate` per second, each
 * as orders.created, inventory.reserved 5 ms later and payments.completed 5 ms
 * after that (published as admin); the real projection (workers/order,
 * identity order-status) applies them, and in the second variant the index
 * writer (identity console) runs beside it, once per `--delay` (ms an order's
 * changes are held and coalesced; 0 writes every change).
 * Printed per order: durable writes (the bucket's and the index's stream
 * sequences, plus purges), CPU of this process (projection, writer, load)
 * and of nats-server, and the time from payments.completed published to the
 * confirmed record seen in the bucket.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { Kvm, KvWatchInclude } from '@nats-io/kv'
import * as v from 'valibot'
import { BUCKETS, SUBJECTS } from '../../schemas/subjects.ts'
import { loadConfig } from '../../shared/config/load-config.ts'
import { natsSettings } from '../../shared/config/nats-settings.ts'
import { ORDER_INDEX } from '../../shared/nats/order-index.ts'
import { publishEvent, toEvent } from '../../shared/nats/publish.ts'
import { openBucket, startNatsRuntime } from '../../shared/nats/runtime.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import { startIndexWriter, type IndexWriter } from '../../workers/console/index-writer.ts'
import { startProjection } from '../../workers/order/projection.ts'
import { startBenchNats, streamSequences, type BenchNats } from '../lib/nats.ts'
import { createBenchSecurity, type BenchSecurity } from '../lib/security.ts'
import { cpuMs } from '../lib/processes.ts'
import { percentile } from '../lib/stats.ts'

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '300' },
    seconds: { type: 'string', default: '20' },
    delay: { type: 'string', default: '250,0' },
  },
})
const rate = Number(values.rate)
const orders = Math.round(rate * Number(values.seconds))
const delays = values.delay.split(',').map(Number)
const logger = createLogger({ service: 'bench', level: 'warn' })
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

async function runtimeAs(identity: 'order-status' | 'console', nats: BenchNats, security: BenchSecurity) {
  const env = { NATS_URL: nats.url, ...(await security.env(identity)) }
  const config = loadConfig(v.object(natsSettings), env)
  return startNatsRuntime(identity, config, { connect, logger, metrics: createMetrics(identity) })
}

async function variant(withIndex: boolean, delayMs = 0) {
  const dir = await mkdtemp(join(tmpdir(), 'console-writes-'))
  const security = await createBenchSecurity()
  const nats = await startBenchNats(dir, security)
  try {
    await security.provision(nats.url)
    const projectionRt = await runtimeAs('order-status', nats, security)
    const projection = await startProjection(
      projectionRt,
      await openBucket(projectionRt, BUCKETS.orderStatus),
    )
    const consoleRt = withIndex ? await runtimeAs('console', nats, security) : undefined
    const writer: IndexWriter | undefined = consoleRt && (await startIndexWriter(consoleRt, { delayMs }))

    const js = jetstream(nats.nc)
    const completedAt = new Map<string, number>()
    const latencies: number[] = []
    const watch = await (
      await new Kvm(nats.nc).open(BUCKETS.orderStatus)
    ).watch({ include: KvWatchInclude.UpdatesOnly })
    void (async () => {
      for await (const e of watch) {
        const sent = completedAt.get(e.key)
        if (sent !== undefined && e.json<{ status: string }>().status === 'confirmed') {
          latencies.push(performance.now() - sent)
          completedAt.delete(e.key)
        }
      }
    })()

    const before = await streamSequences(nats.jsm)
    const cpu0 = process.cpuUsage()
    const server0 = cpuMs(nats.pid)
    const started = performance.now()
    const publish = (s: Parameters<typeof toEvent>[0], payload: Parameters<typeof toEvent>[1]) =>
      publishEvent(js, toEvent(s, payload), { correlationId: 'bench', timeoutMs: 10_000 })
    const inFlight: Promise<unknown>[] = []
    for (let i = 0; i < orders; i++) {
      const due = started + (i * 1000) / rate
      if (due > performance.now()) await sleep(due - performance.now())
      const orderId = crypto.randomUUID()
      const at = () => new Date().toISOString()
      const items = [{ sku: 'MUG-1', quantity: 1 }]
      inFlight.push(
        (async () => {
          await publish(SUBJECTS.orderCreated, {
            version: 1,
            orderId,
            occurredAt: at(),
            customerId: `c-${i % 500}`,
            items,
            sealedPaymentToken: 'sealed.v1.bench',
          })
          await sleep(5)
          await publish(SUBJECTS.inventoryReserved, {
            version: 1,
            orderId,
            occurredAt: at(),
            items: [{ ...items[0]!, unitPriceCents: 1250 }],
            amountCents: 1250,
            currency: 'EUR',
            sealedPaymentToken: 'sealed.v1.bench',
          })
          await sleep(5)
          completedAt.set(orderId, performance.now())
          await publish(SUBJECTS.paymentCompleted, {
            version: 1,
            orderId,
            occurredAt: at(),
            chargeId: `ch_${i}`,
            amountCents: 1250,
            currency: 'EUR',
          })
        })(),
      )
    }
    await Promise.all(inFlight)
    for (const deadline = Date.now() + 60_000; completedAt.size > 0 || (writer?.held() ?? 0) > 0;) {
      if (Date.now() > deadline)
        throw new Error(`not settled: ${completedAt.size} unconfirmed, ${writer?.held()} held`)
      await sleep(50)
    }
    const elapsed = performance.now() - started
    const cpu = process.cpuUsage(cpu0)
    const serverMs = cpuMs(nats.pid) - server0
    const after = await streamSequences(nats.jsm)
    watch.stop()
    const stats = writer?.stats()
    await writer?.stop()
    await projection.stop()
    await Promise.all([projectionRt.nc.close(), consoleRt?.nc.close()])
    latencies.sort((a, b) => a - b)
    const delta = (s: string) => (after[s] ?? 0) - (before[s] ?? 0)
    return {
      name: withIndex ? `projection + index writer (${delayMs} ms)` : 'projection only',
      statusWrites: delta(`KV_${BUCKETS.orderStatus}`) / orders,
      indexWrites: delta(ORDER_INDEX.stream) / orders,
      purges: (stats?.purges ?? 0) / orders,
      processCpuMs: (cpu.user + cpu.system) / 1000 / orders,
      serverCpuMs: serverMs / orders,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      seconds: elapsed / 1000,
    }
  } finally {
    await nats.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

const rows = [await variant(false)]
for (const delayMs of delays) rows.push(await variant(true, delayMs))
console.log(`${orders} orders at ${rate}/s; per order:\n`)
console.log(
  '| variant | status writes | index writes | index purges | CPU this process (ms) | CPU nats-server (ms) | completed->confirmed p50 / p99 (ms) |',
)
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.statusWrites.toFixed(2)} | ${r.indexWrites.toFixed(2)} | ${r.purges.toFixed(2)} | ${r.processCpuMs.toFixed(3)} | ${r.serverCpuMs.toFixed(3)} | ${r.p50.toFixed(1)} / ${r.p99.toFixed(1)} |`,
  )
}
