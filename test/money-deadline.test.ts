// The order deadline against a charge still in flight, end to end: the
// processor takes the charge after the deadline has cancelled the order.
// Every worker a real process on a real nats-server; the money invariant is
// read from the processor's own ledger.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitFor } from './harness/wait-for.ts'
import { startSagaStack, type SagaStack } from './support/saga-stack.ts'

/** The order deadline; tok_slow charges complete later, and the settle budget is longer still. */
const DEADLINE_MS = 3_000
const SLOW_MS = 6_000

let stack: SagaStack

beforeAll(async () => {
  stack = await startSagaStack({
    // tok_flaky: answered 503 (nothing written) for its first 100 attempts, long past the deadline.
    gatewayEnv: { GATEWAY_SLOW_MS: String(SLOW_MS), GATEWAY_FLAKY_FAILURES: '100' },
    workerEnv: { ORDER_DEADLINE_MS: String(DEADLINE_MS) },
    paymentEnv: {
      // Still waiting for the charge when the deadline comes.
      PAYMENT_SETTLE_BUDGET_MS: '20000',
      PAYMENT_SETTLE_POLL_MS: '200',
      PAYMENT_RECONCILE_INTERVAL_MS: '250',
      PAYMENT_RECONCILE_MAX_BACKOFF_MS: '500',
      PAYMENT_RECONCILE_WINDOW_MS: '15000',
      // Quick retries, and a breaker that stays closed through a flaky card's 503s.
      PAYMENT_RETRIES: '20',
      PAYMENT_RETRY_INITIAL_DELAY_MS: '50',
      PAYMENT_RETRY_MAX_DELAY_MS: '100',
      PAYMENT_BREAKER_MIN_CALLS: '100000',
    },
  })
}, 90_000)

afterAll(async () => {
  await stack?.dispose()
})

describe('a deadline that comes while the charge is in flight', () => {
  it('cancels the order deadline_exceeded at once, returns the stock, and refunds the charge the processor takes later', async () => {
    await stack.setStock('LATE-1', 5, 700)
    const placed = await stack.placeOrder({
      customerId: 'cust-late',
      items: [{ sku: 'LATE-1', quantity: 2 }],
      paymentToken: 'tok_slow',
    })
    const started = Date.now()
    // Cancelled by its deadline, before the processor has answered.
    expect(await stack.waitForFinal(placed.orderId, 15_000)).toMatchObject({
      status: 'cancelled',
      reason: 'deadline_exceeded',
    })
    expect(Date.now() - started).toBeLessThan(SLOW_MS)
    const held = await waitFor(
      async () => {
        const s = await stack.getStock('LATE-1')
        return s.reserved === 0 ? s : undefined
      },
      { timeoutMs: 10_000, message: 'the stock released' },
    )
    expect(held).toMatchObject({ onHand: 5, available: 5 })
    // The charge completes at 6 s; reconciliation finds it and gives it back.
    const shown = await waitFor(
      async () => {
        const o = await stack.getOrder(placed.orderId)
        return (o?.refunds?.length ?? 0) > 0 ? o : undefined
      },
      { timeoutMs: 25_000, message: 'the refund shown on the order' },
    )
    expect(shown).toMatchObject({
      status: 'cancelled',
      reason: 'deadline_exceeded',
      charges: [{ amountCents: 1_400 }],
      refunds: [{ amountCents: 1_400, reason: 'deadline_exceeded' }],
    })
    // The money invariant, from the processor's ledger: taken and given back.
    const charges = await stack.charges(placed.orderId)
    expect(charges.map((c) => [c.status, c.amountCents, c.amountRefundedCents])).toStrictEqual([
      ['succeeded', 1_400, 1_400],
    ])
    // Never confirmed, not even when the charge's answer came.
    expect((await stack.getOrder(placed.orderId))?.history.map((h) => h.status)).not.toContain('confirmed')
  }, 60_000)

  it('sends no new charge attempt once the deadline has cancelled the order', async () => {
    await stack.setStock('LATE-2', 5, 300)
    const placed = await stack.placeOrder({
      customerId: 'cust-flaky',
      items: [{ sku: 'LATE-2', quantity: 1 }],
      paymentToken: 'tok_flaky',
    })
    expect(await stack.waitForFinal(placed.orderId, 15_000)).toMatchObject({
      status: 'cancelled',
      reason: 'deadline_exceeded',
    })
    // Without the check before each retry, the attempts went on under the key
    // and the 101st (about 6-10 s in) charged the cancelled order.
    await new Promise((resolve) => setTimeout(resolve, 10_000))
    expect(await stack.charges(placed.orderId)).toStrictEqual([])
    expect(await stack.getStock('LATE-2')).toMatchObject({ onHand: 5, reserved: 0, available: 5 })
    expect((await stack.getOrder(placed.orderId))?.charges ?? []).toStrictEqual([])
    await stack.moneyBalanced()
  }, 60_000)
})
