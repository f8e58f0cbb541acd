/**
 * The console's order index at 100,000 orders: how long a page of search
 * takes, and what it reads.
 *
 *   bun bench/console/index-search.ts [--orders 100000] [--span-hours 24] [--rounds 20]
 *
 * Starts one nats-server (shipped settings: file storage, sync_interval 1s,
 * NKEY authentication from the access table), runs the provision step, fills
 * ORDER_INDEX with `--orders` entries created over the last `--span-hours`
 * (10,000 customers, one with 2,000 orders; 90% confirmed, 7% cancelled with
 * reasons, 3% still pending or reserved), then times each search `--rounds`
 * times as the console does it (its own NATS identity, batched direct gets).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { ORDER_INDEX } from '../../shared/nats/order-index.ts'
import { createIndexReader, searchOrders, type SearchOptions } from '../../workers/console/index-query.ts'
import {
  customerSubject,
  entryBody,
  entrySubject,
  parseCursor,
  type IndexEntry,
} from '../../workers/console/index-subjects.ts'
import { startBenchNats } from '../lib/nats.ts'
import { createBenchSecurity } from '../lib/security.ts'
import { percentile } from '../lib/stats.ts'

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '100000' },
    'span-hours': { type: 'string', default: '24' },
    rounds: { type: 'string', default: '20' },
  },
})
const orders = Number(values.orders)
const spanMs = Number(values['span-hours']) * 3_600_000
const rounds = Number(values.rounds)
const WHALE = 'whale-customer'

function uuidv7(ms: number, n: number): string {
  const hex = ms.toString(16).padStart(12, '0')
  const tail = n.toString(16).padStart(15, '0')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${tail.slice(0, 3)}-8${tail.slice(3, 6)}-${tail.slice(6, 15).padStart(12, '0')}`
}

function syntheticEntry(i: number, now: number): IndexEntry {
  const createdMs = now - Math.floor(((orders - i) / orders) * spanMs)
  const roll = (i * 7919) % 100
  const status = roll < 90 ? 'confirmed' : roll < 97 ? 'cancelled' : roll < 99 ? 'pending' : 'reserved'
  const reasons = ['out_of_stock', 'payment_declined', 'customer_request', 'deadline_exceeded']
  const customerId = i % 50 === 0 ? WHALE : `customer-${(i * 104_729) % 10_000}`
  return {
    orderId: uuidv7(createdMs, i),
    status,
    ...(status === 'cancelled' ? { reason: reasons[i % reasons.length] ?? 'out_of_stock' } : {}),
    customerId,
    createdMs,
    amountCents: 1_000 + (i % 9_000),
    updatedAt: new Date(createdMs + 50).toISOString(),
  }
}

const dir = await mkdtemp(join(tmpdir(), 'console-index-'))
const security = await createBenchSecurity()
const nats = await startBenchNats(dir, security)
try {
  await security.provision(nats.url)
  const js = jetstream(nats.nc)
  const now = Date.now()
  const fillStart = performance.now()
  for (let i = 0; i < orders; i += 1_000) {
    const acks = []
    for (let j = i; j < Math.min(orders, i + 1_000); j++) {
      const e = syntheticEntry(j, now)
      acks.push(js.publish(entrySubject(e), entryBody(e)))
      acks.push(js.publish(customerSubject(e.customerId ?? '', e.createdMs, e.orderId), ''))
    }
    await Promise.all(acks)
  }
  const fillMs = performance.now() - fillStart
  const info = await nats.jsm.streams.info(ORDER_INDEX.stream)
  console.log(
    `filled ${orders} orders, ${info.state.messages} messages (${(info.state.bytes / 1024 / 1024).toFixed(1)} MiB) in ${(fillMs / 1000).toFixed(1)} s ` +
      `(${Math.round((2 * orders) / (fillMs / 1000))} writes/s: an entry and a customer entry each), spread over ${values['span-hours']} h`,
  )

  // The console's own identity and reads.
  const nc = await connect({ servers: nats.url, ...security.natsAuth('console') })
  const reader = createIndexReader(await jetstreamManager(nc), { timeoutMs: 5_000 })
  const sample = syntheticEntry(Math.floor(orders / 3), now)
  const cases: [string, Omit<SearchOptions, 'limit'>, number][] = [
    ['recent, page 1', { search: {} }, 1],
    ['recent, pages 1-5 (cursor)', { search: {} }, 5],
    ['status confirmed, page 1', { search: { status: 'confirmed' } }, 1],
    ['status cancelled out_of_stock, page 1', { search: { status: 'cancelled', reason: 'out_of_stock' } }, 1],
    ['status pending (rare), page 1', { search: { status: 'pending' } }, 1],
    ['status confirmed, 12 h back (cursor)', { search: { status: 'confirmed' } }, 1],
    ['one customer (~10 orders)', { search: { customerId: sample.customerId ?? '' } }, 1],
    ['customer with 2,000 orders, pages 1-3', { search: { customerId: WHALE } }, 3],
  ]
  console.log('\n| search (50 per page) | p50 ms | p95 ms | count requests | entries read | rows |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const [name, options, pages] of cases) {
    const times: number[] = []
    let reads = { counts: 0, entries: 0 }
    let rows = 0
    for (let r = 0; r < rounds; r++) {
      const t0 = performance.now()
      let before = name.includes('12 h back')
        ? (parseCursor(`${now - 12 * 3_600_000}_ffffffff-ffff-7fff-bfff-ffffffffffff`) ?? undefined)
        : undefined
      reads = { counts: 0, entries: 0 }
      rows = 0
      for (let p = 0; p < pages; p++) {
        const page = await searchOrders(reader, {
          ...options,
          limit: 50,
          ...(before ? { before } : {}),
          nowMs: now,
        })
        reads = { counts: reads.counts + page.reads.counts, entries: reads.entries + page.reads.entries }
        rows += page.orders.length
        before = page.next === null ? undefined : (parseCursor(page.next) ?? undefined)
        if (before === undefined) break
      }
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    console.log(
      `| ${name} | ${percentile(times, 50).toFixed(1)} | ${percentile(times, 95).toFixed(1)} | ${reads.counts} | ${reads.entries} | ${rows} |`,
    )
  }
  await nc.close()
} finally {
  await nats.stop()
  await rm(dir, { recursive: true, force: true })
}
