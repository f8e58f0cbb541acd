/**
 * How fast does a durable pull consumer drain a backlog, by the way its
 * subjects are filtered? The inventory worker needs orders.created and the two
 * payment outcomes out of the ORDERS stream (three events per order).
 *
 *   bun bench/probes/consumer-filters.ts [--orders 60000] [--rounds 2]
 *
 * Fills ORDERS (shipped settings: file storage, sync_interval 1s) with the
 * events of `--orders` orders, then drains it with fresh durable consumers in
 * each layout (as the workers provision them), acking every message, and prints the wanted messages per
 * second and the ratio to an unfiltered consumer measured in the same run.
 * Multi-filter rates vary from run to run on nats-server 2.10 (the 3-filter
 * set was slow in every run here, other sets in some): run it more than once.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { jetstream } from '@nats-io/jetstream'
import { SUBJECTS, STREAMS } from '../../schemas/subjects.ts'
import { DEFAULT_LIMITS, durableConsumerConfig, orderStreamConfig } from '../../shared/nats/topology.ts'
import { startBenchNats } from '../lib/nats.ts'
import { createBenchSecurity } from '../lib/security.ts'

const { values } = parseArgs({
  options: { orders: { type: 'string', default: '60000' }, rounds: { type: 'string', default: '2' } },
})
const orders = Number(values.orders)
const rounds = Number(values.rounds)

interface Layout {
  name: string
  /** One consumer per entry; each entry is that consumer's filter list ([] = every subject). */
  consumers: string[][]
  /** Messages the layout must deliver in all (to count its wanted rate). */
  wanted: number
}

const layouts: Layout[] = [
  { name: 'no filter (baseline, reads all 3 events)', consumers: [[]], wanted: 3 * orders },
  {
    name: 'one consumer, 3 filters (the inventory worker before the split)',
    consumers: [[SUBJECTS.orderCreated, SUBJECTS.paymentFailed, SUBJECTS.paymentCompleted]],
    wanted: 2 * orders,
  },
  {
    name: 'two consumers: orders.created | payments.> (the inventory worker now)',
    consumers: [[SUBJECTS.orderCreated], ['payments.>']],
    wanted: 2 * orders,
  },
  {
    name: 'one consumer, 2 filters: payments.completed + payments.failed',
    consumers: [[SUBJECTS.paymentCompleted, SUBJECTS.paymentFailed]],
    wanted: orders,
  },
]

const dir = await mkdtemp(join(tmpdir(), 'bench-filters-'))
// The server requires NKEYs as deployed; the probe works as admin (its own stream and consumers).
const nats = await startBenchNats(dir, await createBenchSecurity())
try {
  await nats.jsm.streams.add(orderStreamConfig(DEFAULT_LIMITS))
  const js = jetstream(nats.nc)
  const payload = new TextEncoder().encode(
    JSON.stringify({ version: 1, orderId: 'x'.repeat(36), pad: 'y'.repeat(300) }),
  )
  const fillStarted = performance.now()
  for (let i = 0; i < orders; i += 500) {
    const acks: Promise<unknown>[] = []
    for (let j = i; j < Math.min(orders, i + 500); j++) {
      acks.push(js.publish(SUBJECTS.orderCreated, payload))
      acks.push(js.publish(SUBJECTS.inventoryReserved, payload))
      acks.push(js.publish(j % 2 === 0 ? SUBJECTS.paymentCompleted : SUBJECTS.paymentFailed, payload))
    }
    await Promise.all(acks)
  }
  console.log(
    `filled ${STREAMS.orders.name} with ${3 * orders} events in ${((performance.now() - fillStarted) / 1000).toFixed(1)} s`,
  )

  const rates = new Map<string, number[]>()
  let serial = 0
  for (let round = 1; round <= rounds; round++) {
    for (const layout of layouts) {
      const started = performance.now()
      const counts = await Promise.all(
        layout.consumers.map(async (filters) => {
          const durable = `probe-${++serial}`
          await nats.jsm.consumers.add(
            STREAMS.orders.name,
            durableConsumerConfig(durable, filters, DEFAULT_LIMITS),
          )
          const info = await nats.jsm.consumers.info(STREAMS.orders.name, durable)
          const expected = info.num_pending
          const consumer = await js.consumers.get(STREAMS.orders.name, durable)
          const messages = await consumer.consume({ max_messages: 512 })
          let seen = 0
          const deadline = setTimeout(() => messages.stop(), 300_000)
          for await (const m of messages) {
            m.ack()
            if (++seen >= expected) break
          }
          clearTimeout(deadline)
          await messages.close()
          await nats.jsm.consumers.delete(STREAMS.orders.name, durable)
          return seen
        }),
      )
      const seconds = (performance.now() - started) / 1000
      const seen = counts.reduce((a, b) => a + b, 0)
      if (seen !== layout.wanted) throw new Error(`${layout.name}: saw ${seen} of ${layout.wanted}`)
      const rate = seen / seconds
      rates.set(layout.name, [...(rates.get(layout.name) ?? []), rate])
      console.log(
        `round ${round}: ${layout.name}: ${seen} in ${seconds.toFixed(2)} s = ${Math.round(rate)} msg/s`,
      )
    }
  }

  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  const base = median(rates.get(layouts[0]?.name ?? '') ?? [])
  console.log(`\n| layout | wanted msg/s (median of ${rounds}) | / no filter |\n| --- | --- | --- |`)
  for (const layout of layouts) {
    const m = median(rates.get(layout.name) ?? [])
    console.log(`| ${layout.name} | ${Math.round(m)} | ${(m / base).toFixed(2)} |`)
  }
} finally {
  await nats.stop()
  await rm(dir, { recursive: true, force: true })
}
