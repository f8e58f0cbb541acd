// The order saga end to end: every worker a real process on a real nats-server.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BUCKETS,
  DEAD_LETTER_HEADERS,
  HEADERS,
  STREAMS,
  SUBJECTS,
  toDeadlineFiredSubject,
} from '../schemas/subjects.ts'
import { ADVISORY_STREAM, captureDurableName } from '../shared/nats/dead-letter-capture.ts'
import { permissionViolations } from './harness/lines.ts'
import { waitFor } from './harness/wait-for.ts'
import { CARD_TOKEN, findInStreams } from './support/secret-scan.ts'
import { startSagaStack, type SagaStack } from './support/saga-stack.ts'

let stack: SagaStack
let nc: NatsConnection
let jsm: JetStreamManager

const order = (sku: string, quantity: number, paymentToken = 'tok_ok') => ({
  customerId: 'cust-saga',
  items: [{ sku, quantity }],
  paymentToken,
})

beforeAll(async () => {
  stack = await startSagaStack({ inventoryProcesses: 2 })
  nc = await connect(stack.server.connectOptions())
  jsm = await jetstreamManager(nc)
}, 90_000)

afterAll(async () => {
  await nc?.close().catch(() => undefined)
  await stack?.dispose()
})

describe('order saga', () => {
  it('confirms an order: stock moves from available to sold, one charge', async () => {
    await stack.setStock('HAPPY-1', 10, 1250)
    const placed = await stack.placeOrder(order('HAPPY-1', 2), { 'X-Correlation-ID': 'corr-happy' })
    expect(placed.status).toBe(202)
    const final = await stack.waitForFinal(placed.orderId)
    expect(final.status).toBe('confirmed')
    expect(final.history.map((h) => h.status)).toStrictEqual(['pending', 'reserved', 'confirmed'])
    const stock = await waitFor(async () => {
      const s = await stack.getStock('HAPPY-1')
      return s.reserved === 0 ? s : undefined
    })
    expect(stock).toStrictEqual({ sku: 'HAPPY-1', onHand: 8, reserved: 0, available: 8, priceCents: 1250 })
    const charges = await stack.charges(placed.orderId)
    expect(charges).toHaveLength(1)
    expect(charges[0]).toMatchObject({ amountCents: 2500, status: 'succeeded' })
  })

  it('carries the correlation id on every event of the order', async () => {
    await stack.setStock('CORR-1', 5, 100)
    const placed = await stack.placeOrder(order('CORR-1', 1), { 'X-Correlation-ID': 'corr-travels' })
    await stack.waitForFinal(placed.orderId)
    const subjects = [SUBJECTS.orderCreated, SUBJECTS.inventoryReserved, SUBJECTS.paymentCompleted]
    for (const subject of subjects) {
      const msg = await jsm.streams.getMessage(STREAMS.orders.name, { last_by_subj: subject })
      expect(msg?.json<{ orderId: string }>().orderId, subject).toBe(placed.orderId)
      expect(msg?.header?.get(HEADERS.correlationId), subject).toBe('corr-travels')
    }
    const lines = [...stack.inventories, stack.payment]
      .flatMap((p) => p.handle.lines())
      .filter((l) => l.includes(placed.orderId))
    expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) expect(line).toContain('"correlationId":"corr-travels"')
  })

  it('cancels an order out_of_stock without touching stock or charging', async () => {
    await stack.setStock('SHORT-1', 1, 500)
    const placed = await stack.placeOrder(order('SHORT-1', 5))
    const final = await stack.waitForFinal(placed.orderId)
    expect(final).toMatchObject({ status: 'cancelled', reason: 'out_of_stock' })
    expect(await stack.getStock('SHORT-1')).toStrictEqual({
      sku: 'SHORT-1',
      onHand: 1,
      reserved: 0,
      available: 1,
      priceCents: 500,
    })
    expect(await stack.charges(placed.orderId)).toStrictEqual([])
  })

  it('reserves all items of an order or none', async () => {
    await stack.setStock('MULTI-A', 5, 100)
    await stack.setStock('MULTI-B', 1, 100)
    const placed = await stack.placeOrder({
      customerId: 'c',
      items: [
        { sku: 'MULTI-A', quantity: 2 },
        { sku: 'MULTI-B', quantity: 3 },
      ],
      paymentToken: 'tok_ok',
    })
    expect(await stack.waitForFinal(placed.orderId)).toMatchObject({
      status: 'cancelled',
      reason: 'out_of_stock',
    })
    expect(await stack.getStock('MULTI-A')).toMatchObject({ onHand: 5, reserved: 0, available: 5 })
    expect(await stack.getStock('MULTI-B')).toMatchObject({ onHand: 1, reserved: 0, available: 1 })
  })

  it('cancels payment_declined and releases the reservation', async () => {
    await stack.setStock('DECLINE-1', 10, 700)
    const placed = await stack.placeOrder(order('DECLINE-1', 3, 'tok_declined'))
    expect(await stack.waitForFinal(placed.orderId)).toMatchObject({
      status: 'cancelled',
      reason: 'payment_declined',
    })
    const stock = await waitFor(
      async () => {
        const s = await stack.getStock('DECLINE-1')
        return s.reserved === 0 ? s : undefined
      },
      { message: 'reservation released' },
    )
    expect(stock).toStrictEqual({ sku: 'DECLINE-1', onHand: 10, reserved: 0, available: 10, priceCents: 700 })
    expect(await stack.charges(placed.orderId)).toStrictEqual([])
  })

  it('confirms through a flaky gateway after retries, charging once', async () => {
    await stack.setStock('FLAKY-1', 10, 300)
    const placed = await stack.placeOrder(order('FLAKY-1', 1, 'tok_flaky'))
    expect((await stack.waitForFinal(placed.orderId)).status).toBe('confirmed')
    expect(await stack.charges(placed.orderId)).toHaveLength(1)
  })

  it('never guesses on a card slower than the timeout: the charge the processor took confirms it, once', async () => {
    await stack.setStock('SLOW-1', 4, 300)
    const placed = await stack.placeOrder(order('SLOW-1', 1, 'tok_slow'))
    // The first attempt times out (500 ms); retries under the same key find it
    // still processing, then get the charge once the processor finishes it.
    expect(await stack.waitForFinal(placed.orderId, 60_000)).toMatchObject({ status: 'confirmed' })
    expect(await stack.charges(placed.orderId)).toHaveLength(1)
    await waitFor(async () => (await stack.getStock('SLOW-1')).reserved === 0, { message: 'stock sold' })
    expect(await stack.getStock('SLOW-1')).toMatchObject({ onHand: 3, available: 3 })
  })

  it('confirms a card whose answer was lost (dropped connection, 5xx after the charge), charging once', async () => {
    await stack.setStock('LOST-1', 10, 400)
    const dropped = await stack.placeOrder(order('LOST-1', 1, 'tok_drop'))
    const failedAfter = await stack.placeOrder(order('LOST-1', 1, 'tok_error_after_charge'))
    for (const placed of [dropped, failedAfter]) {
      expect((await stack.waitForFinal(placed.orderId)).status).toBe('confirmed')
      expect(await stack.charges(placed.orderId)).toHaveLength(1)
    }
  })

  it('sells exactly the stock under contention from two inventory processes', async () => {
    await stack.setStock('HOT-1', 50, 100)
    const placed = await Promise.all(Array.from({ length: 200 }, () => stack.placeOrder(order('HOT-1', 1))))
    expect(placed.filter((p) => p.status !== 202).map((p) => p.status)).toStrictEqual([])
    const finals = await Promise.all(placed.map((p) => stack.waitForFinal(p.orderId, 90_000)))
    const confirmed = finals.filter((f) => f.status === 'confirmed')
    const cancelled = finals.filter((f) => f.status === 'cancelled')
    expect(confirmed).toHaveLength(50)
    expect(cancelled).toHaveLength(150)
    expect(cancelled.every((f) => f.reason === 'out_of_stock')).toBe(true)
    const stock = await waitFor(
      async () => {
        const s = await stack.getStock('HOT-1')
        return s.reserved === 0 ? s : undefined
      },
      { timeoutMs: 20_000, message: 'no stock left reserved' },
    )
    expect(stock).toStrictEqual({ sku: 'HOT-1', onHand: 0, reserved: 0, available: 0, priceCents: 100 })
    // Both inventory processes took part.
    for (const inventory of stack.inventories) {
      expect(inventory.handle.lines().some((l) => l.includes('"msg":"stock reserved"'))).toBe(true)
    }
    const chargeCounts = await Promise.all(
      confirmed.map(async (f) => (await stack.charges(f.orderId)).length),
    )
    expect(chargeCounts.every((n) => n === 1)).toBe(true)
  }, 120_000)

  it('dead-letters a poison message on each consumed subject and goes on', async () => {
    const subjects = [
      SUBJECTS.orderCreated,
      SUBJECTS.inventoryReserved,
      SUBJECTS.paymentFailed,
      SUBJECTS.paymentCompleted,
    ]
    const { jetstream } = await import('@nats-io/jetstream')
    const js = jetstream(nc)
    const poisonSeqs = new Map<string, number>()
    for (const subject of subjects) {
      const ack = await js.publish(subject, `{"poison": "${subject}"`)
      poisonSeqs.set(subject, ack.seq)
    }
    const schemaViolation = await js.publish(
      SUBJECTS.orderCreated,
      JSON.stringify({ version: 1, orderId: 'nope' }),
    )

    for (const subject of subjects) {
      const letter = await waitFor(
        () =>
          jsm.streams
            .getMessage(STREAMS.deadLetters.name, { last_by_subj: `dlq.${subject}` })
            .catch(() => null),
        { message: `dead letter for ${subject}` },
      )
      expect(letter.header.get(DEAD_LETTER_HEADERS.subject)).toBe(subject)
      expect(letter.header.get(DEAD_LETTER_HEADERS.reason)).toMatch(/^(malformed_json|schema_violation):/)
      expect(letter.header.get(DEAD_LETTER_HEADERS.stream)).toBe(STREAMS.orders.name)
      expect(Number(letter.header.get(DEAD_LETTER_HEADERS.deliveries))).toBe(1)
      expect(letter.header.get(DEAD_LETTER_HEADERS.consumer)).not.toBe('')
    }
    // Each consuming durable dead-letters its own copy: orders.created has two
    // consumers (inventory, order-status) and got two poison messages.
    const expected = {
      [`dlq.${SUBJECTS.orderCreated}`]: 4,
      [`dlq.${SUBJECTS.inventoryReserved}`]: 2,
      [`dlq.${SUBJECTS.paymentFailed}`]: 2,
      [`dlq.${SUBJECTS.paymentCompleted}`]: 2,
    }
    const counts = await waitFor(
      async () => {
        const info = await jsm.streams.info(STREAMS.deadLetters.name, { subjects_filter: 'dlq.>' })
        const found = info.state.subjects ?? {}
        return Object.entries(expected).every(([k, n]) => found[k] === n) ? found : undefined
      },
      { message: 'every consumer dead-lettered its poison copy' },
    )
    expect(counts).toStrictEqual(expected)
    const consumers = new Set<string>()
    for (let seq = 1; seq <= 10; seq++) {
      const letter = await jsm.streams.getMessage(STREAMS.deadLetters.name, { seq })
      if (letter !== null && letter.subject === `dlq.${SUBJECTS.orderCreated}`) {
        consumers.add(letter.header.get(DEAD_LETTER_HEADERS.consumer))
        expect([poisonSeqs.get(SUBJECTS.orderCreated), schemaViolation.seq].map(String)).toContain(
          letter.header.get(DEAD_LETTER_HEADERS.sequence),
        )
      }
    }
    expect([...consumers].sort()).toStrictEqual(['inventory', 'order-status'])

    // The consumers go on with the next message.
    await stack.setStock('AFTER-POISON', 3, 100)
    const placed = await stack.placeOrder(order('AFTER-POISON', 1))
    expect((await stack.waitForFinal(placed.orderId)).status).toBe('confirmed')
  })
})

// Last in the file: it reads what every test above left behind.
describe('after the saga', () => {
  it('dead-letters a poison due deadline once, as the server fired it: the work queue drops it, the capture settles its advisory', async () => {
    const { jetstream } = await import('@nats-io/jetstream')
    const { headers } = await import('@nats-io/nats-core')
    const subject = toDeadlineFiredSubject(SUBJECTS.orderCancelRequested)
    // A schedule as the inventory worker makes them: the server stamps what it fires with
    // Nats-Scheduler and Nats-Schedule-Next, which the DLQ would refuse if they were copied.
    const h = headers()
    h.set('Nats-Schedule', `@at ${new Date(Date.now() + 300).toISOString()}`)
    h.set('Nats-Schedule-Target', subject)
    await jetstream(nc).publish(`deadlines.pending.${randomUUID()}`, '{"poison": true', { headers: h })
    const letter = await waitFor(
      () =>
        jsm.streams
          .getMessage(STREAMS.deadLetters.name, { last_by_subj: `dlq.${subject}` })
          .catch(() => null),
      { message: 'the dead letter of the poison deadline' },
    )
    expect(letter.header.get(DEAD_LETTER_HEADERS.stream)).toBe(STREAMS.deadlines.name)
    expect(letter.header.get(DEAD_LETTER_HEADERS.consumer)).toBe('inventory-deadlines')
    expect(letter.header.get(DEAD_LETTER_HEADERS.reason)).toMatch(/^malformed_json:/)
    expect(letter.header.has('Nats-Scheduler')).toBe(false)
    // Terminated, so gone from the work queue; its advisory is taken (a duplicate of the loop's copy), not retried.
    await waitFor(
      async () => {
        const [left, capture] = await Promise.all([
          jsm.streams.getMessage(STREAMS.deadlines.name, { last_by_subj: subject }).catch(() => null),
          jsm.consumers.info(ADVISORY_STREAM, captureDurableName('inventory-deadlines')),
        ])
        return left === null && capture.num_pending === 0 && capture.num_ack_pending === 0
      },
      { message: 'the deadline gone from DEADLINES and its advisory settled' },
    )
    const dlq = await jsm.streams.info(STREAMS.deadLetters.name, { subjects_filter: 'dlq.>' })
    expect(dlq.state.subjects?.[`dlq.${subject}`]).toBe(1)
    expect(dlq.state.subjects?.[`dlq._missing.${STREAMS.deadlines.name}`]).toBeUndefined()
  })

  it('dead-letters a poison event that carries a JetStream header the DLQ would refuse', async () => {
    const { jetstream } = await import('@nats-io/jetstream')
    const { headers } = await import('@nats-io/nats-core')
    const countOf = async () =>
      (await jsm.streams.info(STREAMS.deadLetters.name, { subjects_filter: 'dlq.>' })).state.subjects?.[
        `dlq.${SUBJECTS.orderCreated}`
      ] ?? 0
    const before = await countOf()
    const h = headers()
    h.set('Nats-Expected-Stream', STREAMS.orders.name)
    await jetstream(nc).publish(SUBJECTS.orderCreated, '{garbage', { headers: h })
    // Both consumers of orders.created (inventory, the projection) dead-letter their copy.
    await waitFor(async () => (await countOf()) === before + 2, { message: 'two dead letters stored' })
  })

  it('answers a stock record written around the service with a clear error, and an admin PUT repairs it', async () => {
    const { Kvm } = await import('@nats-io/kv')
    const kv = await new Kvm(nc).open(BUCKETS.stock)
    for (const [sku, garbage] of [
      ['BROKEN-1', JSON.stringify({ onHand: 999, priceCents: 0 })],
      ['BROKEN-2', 'not json'],
    ] as const) {
      await stack.setStock(sku, 5, 100)
      await kv.put(sku, garbage)
      await expect(stack.getStock(sku)).rejects.toThrow(/500/)
      await stack.setStock(sku, 7, 150)
      expect(await stack.getStock(sku)).toStrictEqual({
        sku,
        onHand: 7,
        reserved: 0,
        available: 7,
        priceCents: 150,
      })
    }
  })

  it('left no card token in any stream, KV bucket or log line', async () => {
    expect(await findInStreams(nc, CARD_TOKEN)).toStrictEqual([])
    const leaked = stack.started.flatMap((p) => p.handle.lines()).filter((line) => CARD_TOKEN.test(line))
    expect(leaked).toStrictEqual([])
  })

  it('ran under least privilege with no permission violation on the server', () => {
    expect(permissionViolations(stack.server.log())).toStrictEqual([])
  })

  it('kept the money invariant over every order: captured minus refunded is what each final order says', async () => {
    const checked = await stack.moneyBalanced()
    expect(checked.orders).toBe(stack.placed.size)
    expect(checked.orders).toBeGreaterThan(10)
  })
})
