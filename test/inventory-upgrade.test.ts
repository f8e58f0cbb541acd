// Upgrading an inventory worker whose one durable consumer had three subject
// filters: the payments consumer is split off where that one had got to, the
// old consumer keeps orders.created only, and a second start changes nothing.
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STREAMS, SUBJECTS } from '../schemas/subjects.ts'
import {
  DEFAULT_LIMITS,
  durableConsumerConfig,
  ensureConsumer,
  ensureStreams,
} from '../shared/nats/topology.ts'
import { INVENTORY_CONSUMERS } from '../workers/inventory/service.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'
import { waitFor } from './harness/wait-for.ts'
import { startWorker } from './support/worker-process.ts'

const ORDERS = STREAMS.orders.name
const LEGACY_FILTERS = [SUBJECTS.orderCreated, SUBJECTS.paymentFailed, SUBJECTS.paymentCompleted]
let server: NatsServerHandle
let nc: NatsConnection
let jsm: JetStreamManager

beforeAll(async () => {
  server = await startNatsServer()
  nc = await connect({ servers: server.url })
  jsm = await jetstreamManager(nc)
})

afterAll(async () => {
  await nc?.close().catch(() => undefined)
  await server?.dispose()
})

describe('inventory consumers after an upgrade', () => {
  it('split the payments consumer off at the old ack floor and narrow the old one', async () => {
    await ensureStreams(jsm, DEFAULT_LIMITS)
    const { durable: legacy } = INVENTORY_CONSUMERS.orders
    await ensureConsumer(jsm, ORDERS, durableConsumerConfig(legacy, LEGACY_FILTERS, DEFAULT_LIMITS))
    // History the previous version handled: 1 created, 2 reserved (not its own), 3 payment completed.
    const js = jetstream(nc)
    for (const subject of [SUBJECTS.orderCreated, SUBJECTS.inventoryReserved, SUBJECTS.paymentCompleted])
      await js.publish(subject, '{}')
    const batch = await (await js.consumers.get(ORDERS, legacy)).fetch({ max_messages: 2, expires: 2_000 })
    for await (const m of batch) m.ack()
    await waitFor(async () => (await jsm.consumers.info(ORDERS, legacy)).ack_floor.stream_seq === 3, {
      message: 'the previous version to have acked through 3',
    })

    for (let start = 1; start <= 2; start++) {
      const worker = await startWorker('inventory', { NATS_URL: server.url })
      try {
        const orders = await jsm.consumers.info(ORDERS, legacy)
        expect([orders.config.filter_subject, orders.config.filter_subjects ?? []]).toStrictEqual([
          SUBJECTS.orderCreated,
          [],
        ])
        const payments = await jsm.consumers.info(ORDERS, INVENTORY_CONSUMERS.payments.durable)
        expect({
          policy: payments.config.deliver_policy,
          start: payments.config.opt_start_seq,
          pending: payments.num_pending,
        }).toStrictEqual({ policy: DeliverPolicy.StartSequence, start: 4, pending: 0 })
        expect((await fetch(`${worker.url}/ready`)).status).toBe(200)
      } finally {
        await worker.handle.stop()
      }
    }
  }, 60_000)
})
