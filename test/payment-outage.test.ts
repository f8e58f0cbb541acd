// A gateway outage longer than the retry budget: the breaker opens, the payment
// consumer stops pulling (no deliveries burnt), and orders complete once the
// gateway is back.
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STREAMS } from '../schemas/subjects.ts'
import { waitFor } from './harness/wait-for.ts'
import { startSagaStack, startWorker, type SagaStack, type ServiceProcess } from './support/saga-stack.ts'

let stack: SagaStack
let gateway: ServiceProcess | undefined
/** Payment workers a test started in place of the stack's. */
const payments: ServiceProcess[] = []

beforeAll(async () => {
  stack = await startSagaStack({
    paymentEnv: {
      PAYMENT_RETRIES: '1',
      PAYMENT_BREAKER_MIN_CALLS: '2',
      PAYMENT_BREAKER_HALF_OPEN_MS: '1000',
      CONSUMER_CONCURRENCY: '4',
    },
  })
}, 90_000)

afterAll(async () => {
  await Promise.allSettled(payments.map((p) => p.handle.stop()))
  await gateway?.handle.stop()
  await stack?.dispose()
})

async function metric(url: string, name: string): Promise<string> {
  const text = await (await fetch(`${url}/metrics`)).text()
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n')
}

/** `count` orders of one unit of `sku`, paid with a good card. */
const placeOrders = (sku: string, count: number) =>
  Promise.all(
    Array.from({ length: count }, () =>
      stack.placeOrder({ customerId: 'c', items: [{ sku, quantity: 1 }], paymentToken: 'tok_ok' }),
    ),
  )

/** Until the payment worker at `url` pulls nothing. */
const paused = (url: string) =>
  waitFor(async () => /consumer="payment"[^}]*\} 1$/m.test(await metric(url, 'consumer_paused')), {
    timeoutMs: 15_000,
    message: 'payment consumption paused',
  })

describe('payment gateway outage', () => {
  it('pauses payment consumption while the breaker is open and completes the orders afterwards', async () => {
    await stack.setStock('OUTAGE-1', 100, 100)
    const port = new URL(stack.gateway.url).port
    await stack.gateway.handle.kill()

    const orders = await placeOrders('OUTAGE-1', 10)
    expect(orders.every((o) => o.status === 202)).toBe(true)

    await paused(stack.payment.url)
    expect(await metric(stack.payment.url, 'payment_breaker_state')).toMatch(
      /payment_breaker_state\{[^}]*\} [12]/,
    )

    // Several half-open trials fail while the gateway stays down; nothing is redelivered.
    await new Promise((r) => setTimeout(r, 2_500))
    const nc = await connect(stack.server.connectOptions())
    try {
      const jsm = await jetstreamManager(nc)
      const during = await jsm.consumers.info(STREAMS.orders.name, 'payment')
      expect(during.num_redelivered).toBe(0)

      gateway = await startWorker('gateway', { PORT: port })
      const finals = await Promise.all(orders.map((o) => stack.waitForFinal(o.orderId, 30_000)))
      const confirmed = finals.filter((f) => f.status === 'confirmed')
      const failed = finals.filter((f) => f.status === 'cancelled')
      // Only orders whose retries ran out before the breaker opened fail.
      expect(failed.every((f) => f.reason === 'payment_failed')).toBe(true)
      expect(failed.length).toBeLessThanOrEqual(4)
      expect(confirmed.length).toBeGreaterThanOrEqual(6)
      for (const f of confirmed) expect(await stack.charges(f.orderId)).toHaveLength(1)
      const after = await jsm.consumers.info(STREAMS.orders.name, 'payment')
      expect(after.num_redelivered).toBe(0)
      await waitFor(async () =>
        /consumer="payment"[^}]*\} 0$/m.test(await metric(stack.payment.url, 'consumer_paused')),
      )
      const stock = await waitFor(async () => {
        const s = await stack.getStock('OUTAGE-1')
        return s.reserved === 0 ? s : undefined
      })
      expect(stock.onHand).toBe(100 - confirmed.length)
    } finally {
      await nc.close()
    }
    await stack.moneyBalanced()
  }, 90_000)

  it('charges nothing for an order its customer cancelled while the gateway was down, once the gateway is back', async () => {
    await stack.setStock('OUTAGE-2', 10, 100)
    const running = gateway ?? stack.gateway
    const port = new URL(running.url).port
    // The sandbox keeps its charges in memory: the one started after this kill
    // sees every attempt made for the order placed below.
    await running.handle.kill()
    const placed = await stack.placeOrder({
      customerId: 'c',
      items: [{ sku: 'OUTAGE-2', quantity: 1 }],
      paymentToken: 'tok_ok',
    })
    expect(placed.status).toBe(202)
    // The charge is under way: the order waits on the payment worker's breaker.
    await paused(stack.payment.url)
    expect((await stack.cancelOrder(placed.orderId)).status).toBe(202)
    gateway = await startWorker('gateway', { PORT: port })
    expect(await stack.waitForFinal(placed.orderId, 30_000)).toMatchObject({
      status: 'cancelled',
      reason: 'customer_request',
    })
    // The held message was handled again once the breaker closed: no new attempt.
    await waitFor(
      async () => /consumer="payment"[^}]*\} 0$/m.test(await metric(stack.payment.url, 'consumer_paused')),
      { timeoutMs: 15_000, message: 'payment consumption resumed' },
    )
    await new Promise((r) => setTimeout(r, 1_000))
    expect(await stack.charges(placed.orderId)).toStrictEqual([])
    const stock = await waitFor(async () => {
      const s = await stack.getStock('OUTAGE-2')
      return s.reserved === 0 ? s : undefined
    })
    expect(stock.onHand).toBe(10)
  }, 90_000)

  it('burns no delivery when the payment worker restarts during the outage: a new one pulls nothing until the gateway answers', async () => {
    await stack.setStock('OUTAGE-3', 10, 100)
    const running = gateway ?? stack.gateway
    const port = new URL(running.url).port
    await running.handle.kill()
    const placed = await placeOrders('OUTAGE-3', 3)
    await paused(stack.payment.url)
    const nc = await connect(stack.server.connectOptions())
    try {
      const jsm = await jetstreamManager(nc)
      const before = await jsm.consumers.info(STREAMS.orders.name, 'payment')
      // A deploy or a crash loop: two restarts while the gateway stays down.
      await stack.payment.handle.stop(10_000)
      for (let restart = 0; restart < 2; restart++) {
        const next = await startWorker('payment', stack.payment.env)
        payments.push(next)
        await paused(next.url)
        // Several of its reachability checks (PAYMENT_BREAKER_HALF_OPEN_MS apart) fail meanwhile.
        await new Promise((r) => setTimeout(r, 2_500))
        const during = await jsm.consumers.info(STREAMS.orders.name, 'payment')
        // Nothing delivered again: the held messages (nak'd at each stop) wait at the server.
        expect(during.delivered.consumer_seq, `restart ${restart + 1}`).toBe(before.delivered.consumer_seq)
        expect(during.num_redelivered, `restart ${restart + 1}`).toBe(before.num_redelivered)
        await next.handle.stop(10_000)
        // The stop ended its pause without resuming anything: no line may say it did.
        expect(next.handle.lines().filter((l) => l.includes('consumption resumed'))).toStrictEqual([])
      }
      // The wait is bounded (PAYMENT_START_HOLD_MAX_MS): then it pulls (unless its breaker
      // has opened meanwhile, on reconciliation's calls), and held messages keep their deadlines.
      const bounded = await startWorker('payment', {
        ...stack.payment.env,
        PAYMENT_START_HOLD_MAX_MS: '1500',
      })
      payments.push(bounded)
      await waitFor(
        () =>
          bounded.handle
            .lines()
            .some((l) => /after PAYMENT_START_HOLD_MAX_MS: consuming|start-up wait over/.test(l)),
        { timeoutMs: 10_000, message: 'the start-up wait ended at PAYMENT_START_HOLD_MAX_MS' },
      )
      await bounded.handle.stop(10_000)
      gateway = await startWorker('gateway', { PORT: port })
      payments.push(await startWorker('payment', stack.payment.env))
      const finals = await Promise.all(placed.map((o) => stack.waitForFinal(o.orderId, 30_000)))
      for (const f of finals) expect(f.status).toBe('confirmed')
      // The money of these orders (the sandbox restarted here keeps no charge of the tests before):
      // one charge each, for the order's amount.
      for (const f of finals)
        expect((await stack.charges(f.orderId)).map((c) => c.amountCents)).toStrictEqual([f.amountCents])
    } finally {
      await nc.close()
    }
  }, 90_000)
})
