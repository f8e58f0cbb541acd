// After a saga run of real worker processes, every message on the ORDERS
// stream, whoever published it (intake, consumers, reconciliation,
// nats-server's deadline scheduler), is a valid binary-mode CloudEvent.
import { jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HEADERS, STREAMS, SUBJECTS } from '../schemas/subjects.ts'
import { waitFor } from './harness/wait-for.ts'
import { readNatsCloudEvent } from './support/cloudevents-reader.ts'
import { startSagaStack, type SagaStack } from './support/saga-stack.ts'
import { readStream } from './support/stream-reader.ts'
import { itKeepsTheMoneyInvariant } from './support/money.ts'

let stack: SagaStack
let nc: NatsConnection

const DEADLINE_MS = 4_000
const order = (sku: string, quantity: number, paymentToken = 'tok_ok') => ({
  customerId: 'cust-ce',
  items: [{ sku, quantity }],
  paymentToken,
})

beforeAll(async () => {
  // A short deadline: schedules fire during the run unless the event that settles an order removed them.
  stack = await startSagaStack({ workerEnv: { ORDER_DEADLINE_MS: String(DEADLINE_MS) } })
  nc = await connect(stack.server.connectOptions())
}, 90_000)

afterAll(async () => {
  await nc?.close().catch(() => undefined)
  await stack?.dispose()
})

/** Sources a service may publish with; `/order-saga` is publishEvent's default. */
const SOURCES = ['/order-saga', '/order-saga/order', '/order-saga/inventory', '/order-saga/payment']

describe('CloudEvents after a saga run', () => {
  it('are on every event of every outcome, with ids unique per source', async () => {
    await stack.setStock('CE-1', 20, 500)
    await stack.setStock('CE-SHORT', 1, 100)
    const confirmed = await stack.placeOrder(order('CE-1', 1))
    const refunded = await stack.placeOrder(order('CE-1', 2))
    const short = await stack.placeOrder(order('CE-SHORT', 5))
    const declined = await stack.placeOrder(order('CE-1', 1, 'tok_declined'))
    expect((await stack.waitForFinal(refunded.orderId)).status).toBe('confirmed')
    expect((await stack.cancelOrder(refunded.orderId)).status).toBe(202)
    for (const placed of [confirmed, short, declined]) await stack.waitForFinal(placed.orderId)
    const jsm = await jetstreamManager(nc)
    const stored = await waitFor(
      async () => {
        const all = await readStream(nc, STREAMS.orders.name)
        // Every deadline fires; the inventory worker relays those of unsettled orders and acks all.
        const { state } = await jsm.streams.info(STREAMS.deadlines.name)
        const refund = all.some((m) => m.subject === SUBJECTS.paymentRefunded)
        return state.messages === 0 && refund ? all : undefined
      },
      {
        timeoutMs: DEADLINE_MS + 20_000,
        message: 'every deadline fired and relayed or dropped, and the refund published',
      },
    )

    const seen = new Set<string>()
    const ids = new Set<string>()
    for (const m of stored) {
      const where = `${m.subject} #${m.seq}`
      const read = readNatsCloudEvent(m.headers, m.data)
      expect(read.problems, where).toStrictEqual([])
      const event = read.event
      const payload = m.json as { orderId: string; occurredAt: string; version: number }
      seen.add(m.subject)
      const version = m.headers?.get(HEADERS.eventVersion)
      expect(version, where).toBe(String(payload.version))
      expect(event?.type, where).toBe(`com.example.order-saga.${m.subject}.v${version}`)
      expect(event?.subject, where).toBe(payload.orderId)
      expect(event?.time, where).toBe(new Date(payload.occurredAt).toISOString())
      expect(event?.datacontenttype, where).toBe('application/json')
      expect(SOURCES, where).toContain(event?.source)
      const msgId = m.headers?.get(HEADERS.msgId)
      // Fired by nats-server: no Nats-Msg-Id, the schedule's id instead.
      const fired = m.subject === SUBJECTS.orderCancelRequested && m.headers?.has('Nats-Scheduler') === true
      expect(event?.id, where).toBe(fired ? `deadline:${payload.orderId}` : msgId)
      const key = `${event?.source} ${event?.id}`
      expect(ids.has(key), `${where}: ${key} seen twice`).toBe(false)
      ids.add(key)
      if (m.subject === SUBJECTS.inventoryReserved) expect(event?.source, where).toBe('/order-saga/inventory')
      if (m.subject === SUBJECTS.paymentCompleted) expect(event?.source, where).toBe('/order-saga/payment')
    }
    expect([...seen].sort()).toStrictEqual(Object.values(SUBJECTS).sort())
  }, 60_000)

  itKeepsTheMoneyInvariant(() => stack)
})
