/**
 * How long does a durable pull consumer take to get a new message, by how
 * its filters came to be? A worker of the previous release opens the
 * `order-status` consumer to every subject by updating it
 * (shared/nats/consumer-config-watch.ts); this measures what that does.
 *
 *   bun bench/probes/filter-update-latency.ts [--messages 20]
 *
 * One nats-server (shipped settings, NKEY authentication), the ORDERS stream
 * as provisioned; one consumer, measured in turn: created with two filters,
 * updated to no filter, updated to `>`, updated back to the two filters, and
 * a fresh consumer created with no filter. For each, `--messages` publishes
 * 150 ms apart while one pull waits, and the time from each publish to its
 * delivery (ms, p50 and max).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { AckPolicy, jetstream, type ConsumerConfig } from '@nats-io/jetstream'
import { STREAMS, SUBJECTS } from '../../schemas/subjects.ts'
import { DEFAULT_LIMITS, orderStreamConfig } from '../../shared/nats/topology.ts'
import { startBenchNats } from '../lib/nats.ts'
import { createBenchSecurity } from '../lib/security.ts'
import { percentile } from '../lib/stats.ts'

const { values } = parseArgs({ options: { messages: { type: 'string', default: '20' } } })
const count = Number(values.messages)
const stream = STREAMS.orders.name
const twoFilters: Partial<ConsumerConfig> = {
  filter_subject: '',
  filter_subjects: [SUBJECTS.orderCreated, SUBJECTS.paymentCompleted],
}
const noFilter: Partial<ConsumerConfig> = { filter_subject: '', filter_subjects: [] }
const everything: Partial<ConsumerConfig> = { filter_subject: '>', filter_subjects: [] }

const dir = await mkdtemp(join(tmpdir(), 'bench-filter-update-'))
const nats = await startBenchNats(dir, await createBenchSecurity())
try {
  await nats.jsm.streams.add(orderStreamConfig(DEFAULT_LIMITS))
  const js = jetstream(nats.nc)

  /** Publish-to-delivery times of `count` messages on `durable`, one publish every 150 ms. */
  async function measure(durable: string): Promise<number[]> {
    const consumer = await js.consumers.get(stream, durable)
    const sentAt = new Map<string, number>()
    const times: number[] = []
    const reading = (async () => {
      const deadline = Date.now() + 30_000
      while (times.length < count && Date.now() < deadline) {
        const batch = await consumer.fetch({ max_messages: 64, expires: 5_000 })
        for await (const m of batch) {
          const sent = sentAt.get(m.string())
          if (sent !== undefined) times.push(Date.now() - sent)
          m.ack()
        }
      }
    })()
    for (let i = 0; i < count; i++) {
      await new Promise((resolve) => setTimeout(resolve, 150))
      const body = `${durable}-${i}-${Date.now()}`
      sentAt.set(body, Date.now())
      await js.publish(SUBJECTS.orderCreated, body)
    }
    await reading
    return times
  }
  const row = (label: string, unsorted: number[], times = [...unsorted].sort((a, b) => a - b)) =>
    times.length === 0
      ? `| ${label} | 0 of ${count} within 30 s | - | - |`
      : `| ${label} | ${times.length} of ${count} | ${percentile(times, 50).toFixed(0)} | ${Math.max(...times).toFixed(0)} |`

  const lines = ['| consumer | delivered | p50 ms | max ms |', '| --- | ---: | ---: | ---: |']
  const base = { durable_name: 'probe', ack_policy: AckPolicy.Explicit }
  await nats.jsm.consumers.add(stream, { ...base, ...twoFilters })
  lines.push(row('created with two filters', await measure('probe')))
  await nats.jsm.consumers.update(stream, 'probe', noFilter)
  lines.push(row('updated to no filter', await measure('probe')))
  await nats.jsm.consumers.update(stream, 'probe', everything)
  lines.push(row('updated to `>`', await measure('probe')))
  await nats.jsm.consumers.update(stream, 'probe', twoFilters)
  lines.push(row('updated back to the two filters', await measure('probe')))
  await nats.jsm.consumers.add(stream, {
    ...base,
    durable_name: 'fresh',
    deliver_policy: 'new',
  })
  lines.push(row('created with no filter', await measure('fresh')))
  process.stdout.write(`${lines.join('\n')}\n`)
} finally {
  await nats.stop()
  await rm(dir, { recursive: true, force: true })
}
