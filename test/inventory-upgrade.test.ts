// Upgrading an inventory worker whose one durable consumer had three subject
// filters: the payments consumer is split off where that one had got to, the
// old consumer keeps orders.created (and cancellation requests) only, a second start changes nothing, and
// a payment the old version left unacked is sold once, with no dead letter.
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { STREAMS, SUBJECTS } from '../schemas/subjects.ts'
import { publishEvent, toEvent, type OutgoingEvent } from '../shared/nats/publish.ts'
import {
  DEFAULT_LIMITS,
  durableConsumerConfig,
  ensureConsumer,
  ensureStreams,
  filtersOf,
} from '../shared/nats/topology.ts'
import { INVENTORY_CONSUMERS } from '../workers/inventory/service.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'
import { waitFor } from './harness/wait-for.ts'
import { bearer, provisionNats } from './support/provision.ts'
import { startWorker } from './support/worker-process.ts'

const ORDERS = STREAMS.orders.name
const LEGACY_FILTERS = [SUBJECTS.orderCreated, SUBJECTS.paymentFailed, SUBJECTS.paymentCompleted]
let server: NatsServerHandle
let nc: NatsConnection
let jsm: JetStreamManager

beforeEach(async () => {
  // Deletes a consumer as admin, as an operator would with the API guard off.
  server = await startNatsServer({ apiGuard: false })
  nc = await connect(server.connectOptions())
  jsm = await jetstreamManager(nc)
  await ensureStreams(jsm, DEFAULT_LIMITS)
})

afterEach(async () => {
  await nc?.close().catch(() => undefined)
  await server?.dispose()
})

describe('inventory consumers after an upgrade', () => {
  it('split the payments consumer off at the old ack floor and narrow the old one', async () => {
    const legacy = INVENTORY_CONSUMERS.orders
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
      // An upgrade runs the new version's provision step first, then its workers.
      await provisionNats([server.url])
      const worker = await startWorker('inventory', { NATS_URL: server.url })
      try {
        const orders = await jsm.consumers.info(ORDERS, legacy)
        expect(filtersOf(orders.config)).toStrictEqual([SUBJECTS.orderCreated, SUBJECTS.orderCancelRequested])
        const payments = await jsm.consumers.info(ORDERS, INVENTORY_CONSUMERS.payments)
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

  it('sells a reservation whose payment the previous version left unacked, and dead-letters nothing', async () => {
    const env = { NATS_URL: server.url, CONSUMER_ACK_WAIT_MS: '1000' }
    const limits = { ...DEFAULT_LIMITS, ackWaitMs: 1_000 }
    const orderId = randomUUID()
    const publish = (event: OutgoingEvent) =>
      publishEvent(jetstream(nc), event, { correlationId: 'upgrade-test', timeoutMs: 5_000 })

    // A reservation made while the worker ran.
    await provisionNats([server.url], env)
    const first = await startWorker('inventory', env)
    try {
      const put = await fetch(`${first.url}/inventory/UPG-1`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', ...bearer('admin') },
        body: JSON.stringify({ onHand: 5, priceCents: 100 }),
      })
      expect(put.status).toBe(201)
      await publish(
        toEvent(SUBJECTS.orderCreated, {
          version: 1,
          orderId,
          occurredAt: new Date().toISOString(),
          customerId: 'c',
          items: [{ sku: 'UPG-1', quantity: 2 }],
          sealedPaymentToken: 'sealed.v1.test',
        }),
      )
      await waitFor(async () => (await stockOf(first.url)).reserved === 2, { message: 'the hold of 2' })
    } finally {
      await first.handle.stop()
    }

    // The consumers as the previous version left them: one, three filters,
    // and the payment delivered to it but not acked (it crashed handling it).
    const legacy = INVENTORY_CONSUMERS.orders
    await jsm.consumers.delete(ORDERS, INVENTORY_CONSUMERS.payments)
    await ensureConsumer(jsm, ORDERS, durableConsumerConfig(legacy, LEGACY_FILTERS, limits))
    const paid = await publish(
      toEvent(SUBJECTS.paymentCompleted, {
        version: 1,
        orderId,
        occurredAt: new Date().toISOString(),
        chargeId: 'ch_upgrade',
        amountCents: 200,
        currency: 'USD',
      }),
    )
    const batch = await (
      await jetstream(nc).consumers.get(ORDERS, legacy)
    ).fetch({
      max_messages: 1,
      expires: 2_000,
    })
    for await (const m of batch) expect(m.seq).toBe(paid.seq)
    expect((await jsm.consumers.info(ORDERS, legacy)).num_ack_pending).toBe(1)

    await provisionNats([server.url], env)
    const upgraded = await startWorker('inventory', env)
    try {
      // Delivered on the new payments consumer, and again on `inventory` once its ack wait ran out.
      await waitFor(
        async () => {
          const infos = await Promise.all(
            [legacy, INVENTORY_CONSUMERS.payments].map((d) => jsm.consumers.info(ORDERS, d)),
          )
          return infos.every(
            (i) => i.num_ack_pending === 0 && i.num_pending === 0 && i.delivered.stream_seq >= paid.seq,
          )
        },
        { timeoutMs: 15_000, message: 'both consumers past the payment, nothing unacked' },
      )
      expect(await stockOf(upgraded.url)).toStrictEqual({
        sku: 'UPG-1',
        onHand: 3,
        reserved: 0,
        available: 3,
        priceCents: 100,
      })
      expect((await jsm.streams.info(STREAMS.deadLetters.name)).state.messages).toBe(0)
    } finally {
      await upgraded.handle.stop()
    }
  }, 60_000)
})

async function stockOf(url: string): Promise<Record<string, unknown> & { reserved?: number }> {
  return (await (await fetch(`${url}/inventory/UPG-1`)).json()) as Record<string, unknown> & {
    reserved?: number
  }
}
