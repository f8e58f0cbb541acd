// Money correctness end to end: cancellations at every stage, deadlines,
// answers the processor never delivered, and reconciliation. Every worker a
// real process on a real nats-server; every check ends with the money
// invariant read from the processor's own ledger.
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEADLINE_FIRED_PREFIX, STREAMS, toDeadlineScheduleSubject } from '../schemas/subjects.ts'
import { waitFor } from './harness/wait-for.ts'
import { crashWorker, reviveWorker, startSagaStack, type SagaStack } from './support/saga-stack.ts'

const DEADLINE_MS = 8_000
let stack: SagaStack

const order = (sku: string, quantity: number, paymentToken = 'tok_ok') => ({
  customerId: 'cust-money',
  items: [{ sku, quantity }],
  paymentToken,
})

beforeAll(async () => {
  stack = await startSagaStack({
    // tok_slow charges complete after 6 s, past the payment worker's 3 s settle budget.
    gatewayEnv: { GATEWAY_SLOW_MS: '6000' },
    workerEnv: { ORDER_DEADLINE_MS: String(DEADLINE_MS) },
    paymentEnv: {
      PAYMENT_SETTLE_BUDGET_MS: '3000',
      PAYMENT_SETTLE_POLL_MS: '200',
      PAYMENT_RECONCILE_INTERVAL_MS: '250',
      PAYMENT_RECONCILE_MAX_BACKOFF_MS: '500',
      PAYMENT_RECONCILE_WINDOW_MS: '10000',
      // A breaker quick to open: a few slow cards must still not open it.
      PAYMENT_BREAKER_MIN_CALLS: '3',
    },
  })
}, 90_000)

afterAll(async () => {
  await stack?.dispose()
})

async function settledStock(sku: string) {
  return await waitFor(
    async () => {
      const s = await stack.getStock(sku)
      return s.reserved === 0 ? s : undefined
    },
    { timeoutMs: 20_000, message: `no holds left on ${sku}` },
  )
}

describe('cancellation', () => {
  it('cancels an order before its reservation: no stock held, no charge', async () => {
    await stack.setStock('CXL-PENDING', 5, 100)
    await crashWorker(stack.inventories[0] ?? stack.payment)
    try {
      const placed = await stack.placeOrder(order('CXL-PENDING', 2))
      const asked = await stack.cancelOrder(placed.orderId)
      expect(asked.status).toBe(202)
      expect(asked.body).toMatchObject({ orderId: placed.orderId, cancellation: 'requested' })
      expect(await stack.waitForFinal(placed.orderId)).toMatchObject({
        status: 'cancelled',
        reason: 'customer_request',
      })
    } finally {
      await reviveWorker(stack.inventories[0] ?? stack.payment)
    }
    expect(await settledStock('CXL-PENDING')).toMatchObject({ onHand: 5, available: 5 })
  })

  it('cancels a reserved order while payment is down: stock released, never charged later', async () => {
    await stack.setStock('CXL-RESERVED', 5, 100)
    await crashWorker(stack.payment)
    let orderId = ''
    try {
      orderId = (await stack.placeOrder(order('CXL-RESERVED', 2))).orderId
      await waitFor(async () => (await stack.getOrder(orderId))?.status === 'reserved', {
        message: 'order reserved',
      })
      expect((await stack.cancelOrder(orderId)).status).toBe(202)
      expect(await stack.waitForFinal(orderId)).toMatchObject({
        status: 'cancelled',
        reason: 'customer_request',
      })
      // inventory.released follows orders.cancelled: wait for the projection to record it.
      const final = await waitFor(
        async () => {
          const record = await stack.getOrder(orderId)
          return record?.history.some((h) => h.event === 'inventory.released') && record
        },
        { timeoutMs: 15_000, message: 'inventory.released on the record' },
      )
      expect(final.history.map((h) => h.event)).toEqual(
        expect.arrayContaining(['orders.cancel_requested', 'orders.cancelled', 'inventory.released']),
      )
    } finally {
      await reviveWorker(stack.payment)
    }
    expect(await settledStock('CXL-RESERVED')).toMatchObject({ onHand: 5, available: 5 })
    // The payment worker, back, finds the order cancelled and charges nothing.
    await new Promise((r) => setTimeout(r, 1_000))
    expect(await stack.charges(orderId)).toStrictEqual([])
  })

  it('refunds a confirmed order and returns its stock; a second cancel changes nothing', async () => {
    await stack.setStock('CXL-PAID', 5, 250)
    const placed = await stack.placeOrder(order('CXL-PAID', 2))
    expect((await stack.waitForFinal(placed.orderId)).status).toBe('confirmed')
    expect((await stack.cancelOrder(placed.orderId)).status).toBe(202)
    const final = await waitFor(
      async () => {
        const o = await stack.getOrder(placed.orderId)
        return o?.status === 'cancelled' ? o : undefined
      },
      { timeoutMs: 20_000, message: 'paid order cancelled' },
    )
    expect(final).toMatchObject({ reason: 'customer_request', refundId: expect.any(String) })
    expect(final.refunds).toMatchObject([{ amountCents: 500, reason: 'customer_request' }])
    const [charge] = await stack.charges(placed.orderId)
    expect(charge).toMatchObject({ amountCents: 500, amountRefundedCents: 500 })
    // The sold units come back when the inventory worker handles the cancellation, which
    // may be after the projection shows it: waited for, bounded.
    const returned = await waitFor(
      async () => {
        const s = await stack.getStock('CXL-PAID')
        return s.onHand === 5 && s.reserved === 0 ? s : undefined
      },
      { timeoutMs: 20_000, message: 'the sold units back on hand' },
    )
    expect(returned).toMatchObject({ onHand: 5, available: 5 })

    const again = await stack.cancelOrder(placed.orderId)
    expect(again.status).toBe(200)
    expect(again.body).toMatchObject({ status: 'cancelled', reason: 'customer_request' })
    expect((await stack.charges(placed.orderId))[0]).toMatchObject({ amountRefundedCents: 500 })
    expect((await stack.charges(placed.orderId))[0]?.refunds).toHaveLength(1)
  })

  it('ends a cancel racing the charge in exactly one consistent outcome', async () => {
    await stack.setStock('CXL-RACE', 50, 100)
    const placed = await Promise.all(Array.from({ length: 8 }, () => stack.placeOrder(order('CXL-RACE', 1))))
    await Promise.all(
      placed.map(async (p, i) => {
        await new Promise((r) => setTimeout(r, i * 15))
        expect([200, 202]).toContain((await stack.cancelOrder(p.orderId)).status)
      }),
    )
    for (const p of placed) {
      const final = await waitFor(
        async () => {
          const o = await stack.getOrder(p.orderId)
          return o?.status === 'cancelled' ? o : undefined
        },
        { timeoutMs: 20_000, message: `${p.orderId} cancelled` },
      )
      expect(final.reason).toBe('customer_request')
      // Charged and refunded, or never charged: nothing kept either way.
      const charges = await stack.charges(p.orderId)
      expect(charges.length).toBeLessThanOrEqual(1)
      for (const c of charges) expect(c).toMatchObject({ amountRefundedCents: c.amountCents })
    }
    expect(await settledStock('CXL-RACE')).toMatchObject({ onHand: 50, available: 50 })
  })
})

describe('answers that never arrived', () => {
  it('cancels payment_failed when the processor is still silent past the budget, then refunds the charge it took', async () => {
    await stack.setStock('AMBIG-1', 5, 300)
    const placed = await stack.placeOrder(order('AMBIG-1', 1, 'tok_slow'))
    expect(await stack.waitForFinal(placed.orderId, 20_000)).toMatchObject({
      status: 'cancelled',
      reason: 'payment_failed',
    })
    // The processor finishes the charge at 6 s; reconciliation finds it and gives it back.
    const shown = await waitFor(
      async () => {
        const o = await stack.getOrder(placed.orderId)
        return (o?.refunds?.length ?? 0) > 0 ? o : undefined
      },
      { timeoutMs: 20_000, message: 'refund shown on the order' },
    )
    expect(shown).toMatchObject({
      status: 'cancelled',
      charges: [{ amountCents: 300 }],
      refunds: [{ amountCents: 300, reason: 'reconciliation' }],
    })
    expect(await settledStock('AMBIG-1')).toMatchObject({ onHand: 5, available: 5 })
    // The reconciler's refund event is counted with the payment worker's other events.
    const metrics = await (await fetch(`${stack.payment.url}/metrics`)).text()
    expect(metrics).toMatch(/^events_published_total\{[^}]*subject="payments\.refunded"[^}]*\} [1-9]\d*$/m)
  })
})

describe('deadline schedules', () => {
  it("drops a settled order's deadline when it fires: no cancellation request reaches ORDERS", async () => {
    await stack.setStock('SCHED-1', 5, 100)
    const placed = await stack.placeOrder(order('SCHED-1', 1))
    const nc = await connect(stack.server.connectOptions())
    try {
      // Every cancellation request published for this order, in either lane.
      const requests: string[] = []
      const sub = nc.subscribe('orders.cancel_requested.>')
      const sub2 = nc.subscribe('orders.cancel_requested')
      for (const s of [sub, sub2])
        void (async () => {
          for await (const m of s) if (m.string().includes(placed.orderId)) requests.push(m.subject)
        })()
      const jsm = await jetstreamManager(nc)
      const deadlineMessages = async (filter: string) =>
        Object.keys(
          (await jsm.streams.info(STREAMS.deadlines.name, { subjects_filter: filter })).state.subjects ?? {},
        ).length
      expect((await stack.waitForFinal(placed.orderId)).status).toBe('confirmed')
      // Scheduled in DEADLINES when inventory first saw the order...
      expect(await deadlineMessages(toDeadlineScheduleSubject(placed.orderId))).toBe(1)
      // ...it fires at its time (the holder goes), and the relay takes the fired message off the work queue.
      await waitFor(async () => (await deadlineMessages(toDeadlineScheduleSubject(placed.orderId))) === 0, {
        timeoutMs: DEADLINE_MS + 10_000,
        message: 'the deadline fired',
      })
      await waitFor(async () => (await deadlineMessages(`${DEADLINE_FIRED_PREFIX}.>`)) === 0, {
        timeoutMs: 10_000,
        message: 'the fired deadline relayed or dropped',
      })
      await nc.flush()
      expect(requests).toStrictEqual([])
      expect(await stack.getOrder(placed.orderId)).toMatchObject({ status: 'confirmed' })
      sub.unsubscribe()
      sub2.unsubscribe()
    } finally {
      await nc.close()
    }
  }, 40_000)
})

describe('the breaker and a few bad cards', () => {
  it('stays closed through slow cards: good cards behind them confirm at once', async () => {
    await stack.setStock('BREAKER-1', 20, 100)
    const slow = await Promise.all(
      Array.from({ length: 3 }, () => stack.placeOrder(order('BREAKER-1', 1, 'tok_slow'))),
    )
    await new Promise((r) => setTimeout(r, 700)) // their first attempts have timed out
    const started = Date.now()
    const good = await Promise.all(Array.from({ length: 6 }, () => stack.placeOrder(order('BREAKER-1', 1))))
    for (const g of good) expect((await stack.waitForFinal(g.orderId, 10_000)).status).toBe('confirmed')
    const goodWithinMs = Date.now() - started
    expect(goodWithinMs).toBeLessThan(5_000)
    const metrics = await (await fetch(`${stack.payment.url}/metrics`)).text()
    expect(metrics).toMatch(/^payment_breaker_state(\{[^}]*\})? 0$/m)
    // An outcome not seen yet is a series at 0 from the start.
    expect(metrics).toMatch(/^payment_gateway_charges_total\{outcome="declined"[^}]*\} 0$/m)
    for (const s of slow) expect((await stack.waitForFinal(s.orderId, 20_000)).status).toBe('cancelled')
  }, 60_000)
})

describe('deadlines', () => {
  it('cancels every order deadline_exceeded while payment is down longer than the deadline', async () => {
    await stack.setStock('DEADLINE-1', 10, 100)
    await crashWorker(stack.payment)
    let ids: string[] = []
    try {
      const placed = await Promise.all(
        Array.from({ length: 3 }, () => stack.placeOrder(order('DEADLINE-1', 2))),
      )
      ids = placed.map((p) => p.orderId)
      for (const id of ids) {
        const final = await stack.waitForFinal(id, DEADLINE_MS + 15_000)
        expect(final).toMatchObject({ status: 'cancelled', reason: 'deadline_exceeded' })
      }
      expect(await settledStock('DEADLINE-1')).toMatchObject({ onHand: 10, available: 10 })
    } finally {
      await reviveWorker(stack.payment)
    }
    // Back, the payment worker charges none of them.
    await new Promise((r) => setTimeout(r, 1_500))
    for (const id of ids) expect(await stack.charges(id)).toStrictEqual([])
  }, 60_000)
})

// Last: reads what every test above left behind.
describe('after the money tests', () => {
  it('kept the money invariant over every order', async () => {
    const checked = await stack.moneyBalanced(30_000)
    expect(checked.orders).toBe(stack.placed.size)
  })
})
