import { describe, expect, it } from 'vitest'
import {
  contributionOf,
  MAX_REFUNDS_PER_ORDER,
  factsBefore,
  recordFact,
  toAnalyticsEvent,
  type AnalyticsEvent,
  type Contribution,
} from './domain.ts'
import type { OrderFacts, WindowRecord } from './records.ts'
import { mergeWindows, toTotals } from './summary.ts'
import { addContribution, emptyWindow } from './windows.ts'

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0)
const MIN = 60_000
const A = '0190f0f0-0000-7000-8000-00000000000a'
const B = '0190f0f0-0000-7000-8000-00000000000b'
const C = '0190f0f0-0000-7000-8000-00000000000c'
const D = '0190f0f0-0000-7000-8000-00000000000d'

const created = (orderId: string, at: number, quantity = 1): AnalyticsEvent => ({
  kind: 'created',
  orderId,
  at,
  items: [{ sku: 'MUG', quantity }],
})
const confirmed = (orderId: string, at: number, amountCents: number): AnalyticsEvent => ({
  kind: 'confirmed',
  orderId,
  at,
  amountCents,
  currency: 'USD',
})
const cancelled = (
  orderId: string,
  at: number,
  reason: 'out_of_stock' | 'customer_request',
): AnalyticsEvent => ({
  kind: 'cancelled',
  orderId,
  at,
  reason,
})
const refunded = (
  orderId: string,
  at: number,
  amountCents: number,
  refundId = `re_${orderId}`,
): AnalyticsEvent => ({
  kind: 'refunded',
  orderId,
  at,
  refundId,
  amountCents,
  currency: 'USD',
})

interface State {
  facts: Map<string, OrderFacts>
  windows: Map<number, WindowRecord>
}

/** What the worker does per delivery: the contribution from the facts before it, the fact, the window. */
function deliver(state: State, seq: number, event: AnalyticsEvent, { crashAfterFact = false } = {}): void {
  const facts = state.facts.get(event.orderId) ?? null
  const contribution = contributionOf(factsBefore(facts, event.orderId, seq), event)
  const next = recordFact(facts, event, seq)
  if (next !== null) state.facts.set(event.orderId, next)
  if (crashAfterFact || contribution === null) return
  const window = state.windows.get(contribution.minute) ?? emptyWindow(contribution.minute)
  const added = addContribution(window, contribution, seq)
  if (added !== null) state.windows.set(contribution.minute, added)
}

const fresh = (): State => ({ facts: new Map(), windows: new Map() })
const totals = (state: State) => toTotals(mergeWindows([...state.windows.values()]), 10)

/** A known mix: A confirmed then refunded, B out of stock, C confirmed, D cancelled by its customer. */
const STREAM: [number, AnalyticsEvent][] = [
  [1, created(A, T0 + 1_000, 2)],
  [2, created(B, T0 + 2_000)],
  [3, cancelled(B, T0 + 2_050, 'out_of_stock')],
  [4, confirmed(A, T0 + 1_300, 500)],
  [5, created(C, T0 + 30_000, 3)],
  [6, created(D, T0 + 40_000)],
  [7, confirmed(C, T0 + MIN + 100, 750)],
  [8, cancelled(D, T0 + MIN + 200, 'customer_request')],
  [9, refunded(A, T0 + 2 * MIN, 500)],
  [10, cancelled(A, T0 + 2 * MIN + 10, 'customer_request')],
]

describe('analytics fold', () => {
  it('counts a known mix exactly', () => {
    const state = fresh()
    for (const [seq, event] of STREAM) deliver(state, seq, event)
    expect(totals(state)).toStrictEqual({
      created: 4,
      confirmed: 2,
      cancelled: {
        out_of_stock: 1,
        payment_declined: 0,
        payment_failed: 0,
        customer_request: 2,
        deadline_exceeded: 0,
      },
      cancelledTotal: 3,
      conversionRate: 0.5,
      revenue: { USD: { grossCents: 1250, refundedCents: 500, netCents: 750 } },
      refunds: { count: 1, cents: { USD: 500 } },
      topSkus: [{ sku: 'MUG', units: 5 }],
      // B 50 ms, A 300 ms, C ~30 s, D ~20 s: the refund and A's later cancellation add none.
      sagaDurationMs: { count: 4, p50: expect.any(Number), p99: expect.any(Number) },
    })
    // Within the sketch's relative error (under 10%): p50 between A's 300 ms and D's ~20 s, p99 C's ~30 s.
    const { p50, p99 } = totals(state).sagaDurationMs
    expect(p50).toBeGreaterThanOrEqual(270)
    expect(p50).toBeLessThanOrEqual(22_000)
    expect(p99).toBeGreaterThanOrEqual(27_000)
    expect(p99).toBeLessThanOrEqual(33_000)
  })

  it('puts each event in the minute of its event time, a late one too', () => {
    const state = fresh()
    for (const [seq, event] of STREAM) deliver(state, seq, event)
    // Seq 4 (A confirmed) arrives after seq 3 but belongs to minute 0, like A's creation.
    expect([...state.windows.keys()].sort()).toStrictEqual([T0, T0 + MIN, T0 + 2 * MIN])
    expect(state.windows.get(T0)).toMatchObject({ created: 4, confirmed: 1, seq: 6 })
    expect(state.windows.get(T0 + MIN)).toMatchObject({ confirmed: 1, seq: 8 })
    deliver(state, 11, created('0190f0f0-0000-7000-8000-0000000000ee', T0 - 5 * MIN))
    expect(state.windows.get(T0 - 5 * MIN)).toMatchObject({ created: 1, seq: 11 })
    expect(state.windows.get(T0)).toMatchObject({ created: 4, seq: 6 })
  })

  it('counts nothing twice when every event is delivered again, or after a crash between the two writes', () => {
    const once = fresh()
    for (const [seq, event] of STREAM) deliver(once, seq, event)
    const again = fresh()
    for (const [seq, event] of STREAM) {
      deliver(again, seq, event, { crashAfterFact: seq % 3 === 0 })
      deliver(again, seq, event)
      deliver(again, seq, event)
    }
    expect(again.windows).toStrictEqual(once.windows)
    expect(again.facts).toStrictEqual(once.facts)
  })

  it('counts an order once when its event is published twice (another stream sequence)', () => {
    const state = fresh()
    for (const [seq, event] of STREAM) deliver(state, seq, event)
    const before = totals(state)
    deliver(state, 20, cancelled(B, T0 + 5 * MIN, 'out_of_stock'))
    deliver(state, 21, confirmed(C, T0 + 5 * MIN, 750))
    deliver(state, 22, created(D, T0 + 5 * MIN))
    deliver(state, 23, refunded(A, T0 + 5 * MIN, 500))
    expect(totals(state)).toStrictEqual(before)
  })

  it('replays into the same windows with the facts already recorded (replay after live)', () => {
    const live = fresh()
    for (const [seq, event] of STREAM) deliver(live, seq, event)
    const replay: State = { facts: new Map(live.facts), windows: new Map() }
    for (const [seq, event] of STREAM) deliver(replay, seq, event)
    expect(replay.windows).toStrictEqual(live.windows)
  })

  it('counts no refund past the ones an order keeps, however often it is published', () => {
    const state = fresh()
    deliver(state, 1, created(A, T0))
    deliver(state, 2, confirmed(A, T0 + 10, 100_000))
    for (let i = 0; i < MAX_REFUNDS_PER_ORDER; i++) deliver(state, 3 + i, refunded(A, T0 + 20, 10, `re_${i}`))
    const kept = totals(state)
    expect(kept.refunds).toStrictEqual({
      count: MAX_REFUNDS_PER_ORDER,
      cents: { USD: 10 * MAX_REFUNDS_PER_ORDER },
    })
    // One more, then the same one and a kept one published again (new sequences).
    deliver(state, 100, refunded(A, T0 + 30, 10, 're_extra'))
    deliver(state, 101, refunded(A, T0 + 30, 10, 're_extra'))
    deliver(state, 102, refunded(A, T0 + 30, 10, 're_0'))
    expect(totals(state)).toStrictEqual(kept)
    // A replay over the recorded facts gives the same windows.
    const replay: State = { facts: new Map(state.facts), windows: new Map() }
    for (const [seq, event] of [
      [1, created(A, T0)],
      [2, confirmed(A, T0 + 10, 100_000)],
      ...Array.from(
        { length: MAX_REFUNDS_PER_ORDER },
        (_, i) => [3 + i, refunded(A, T0 + 20, 10, `re_${i}`)] as const,
      ),
      [100, refunded(A, T0 + 30, 10, 're_extra')],
    ] as const)
      deliver(replay, seq, event)
    expect(replay.windows).toStrictEqual(state.windows)
  })

  it('takes a refund of a charge never confirmed (reconciliation) as a refund, not as lost revenue', () => {
    const state = fresh()
    deliver(state, 1, created(A, T0))
    deliver(state, 2, { kind: 'cancelled', orderId: A, at: T0 + 10, reason: 'payment_failed' })
    deliver(state, 3, refunded(A, T0 + 20, 900))
    expect(totals(state)).toMatchObject({
      revenue: {},
      refunds: { count: 1, cents: { USD: 900 } },
      cancelled: { payment_failed: 1 },
    })
  })
})

describe('analytics fold, a cancellation that raced the charge', () => {
  it('nets out a charge whose refund is stored before its confirmation', () => {
    // The stream order a cancel racing the charge can give: the refund and the
    // cancellation stored before the confirmation of the charge they undo.
    const state = fresh()
    deliver(state, 1, created(A, T0))
    deliver(state, 2, refunded(A, T0 + 30, 2_598))
    deliver(state, 3, cancelled(A, T0 + 31, 'customer_request'))
    deliver(state, 4, confirmed(A, T0 + 29, 2_598))
    expect(totals(state)).toMatchObject({
      confirmed: 1,
      cancelled: { customer_request: 1 },
      revenue: { USD: { grossCents: 2_598, refundedCents: 2_598, netCents: 0 } },
      refunds: { count: 1, cents: { USD: 2_598 } },
    })
    // Delivered again (a restart): nothing counted twice.
    for (const [seq, event] of [
      [2, refunded(A, T0 + 30, 2_598)],
      [4, confirmed(A, T0 + 29, 2_598)],
    ] as const)
      deliver(state, seq, event)
    expect(totals(state)).toMatchObject({ revenue: { USD: { netCents: 0 } }, refunds: { count: 1 } })
  })
})

describe('contributionOf', () => {
  const facts = (f: Partial<OrderFacts>): OrderFacts => ({ orderId: A, refunds: [], ...f })
  const cases: [string, OrderFacts, AnalyticsEvent, Contribution | null][] = [
    ['a creation', facts({}), created(A, T0 + 5), { minute: T0, created: true }],
    ['a second creation', facts({ created: { seq: 1, at: T0, items: [] } }), created(A, T0), null],
    [
      'a confirmation: units of the creation, duration',
      facts({ created: { seq: 1, at: T0, items: [{ sku: 'X', quantity: 2 }] } }),
      confirmed(A, T0 + 1_500, 10),
      {
        minute: T0,
        confirmed: { amountCents: 10, currency: 'USD', items: [{ sku: 'X', quantity: 2 }] },
        durationMs: 1_500,
      },
    ],
    [
      'a confirmation of an order created before analytics saw it: no units, no duration',
      facts({}),
      confirmed(A, T0, 10),
      { minute: T0, confirmed: { amountCents: 10, currency: 'USD', items: [] } },
    ],
    [
      'a cancellation after the confirmation: no second duration',
      facts({
        created: { seq: 1, at: T0, items: [] },
        confirmed: { seq: 2, at: T0 + 5, amountCents: 1, currency: 'USD' },
      }),
      cancelled(A, T0 + 90_000, 'customer_request'),
      { minute: T0 + MIN, cancelled: 'customer_request' },
    ],
    [
      'a duration never negative (clocks of two services)',
      facts({ created: { seq: 1, at: T0 + 10, items: [] } }),
      cancelled(A, T0 + 5, 'out_of_stock'),
      { minute: T0, cancelled: 'out_of_stock', durationMs: 0 },
    ],
  ]
  it.each(cases)('%s', (_name, before, event, expected) => {
    expect(contributionOf(before, event)).toStrictEqual(expected)
  })
})

describe('toAnalyticsEvent', () => {
  const base = { version: 1 as const, orderId: A, occurredAt: new Date(T0).toISOString() }
  it('reads a declined payment as a cancellation payment_declined, an unanswered one as payment_failed', () => {
    expect(toAnalyticsEvent('payments.failed', { ...base, reason: 'declined' })).toStrictEqual({
      kind: 'cancelled',
      orderId: A,
      at: T0,
      reason: 'payment_declined',
    })
    expect(
      toAnalyticsEvent('payments.failed', { ...base, reason: 'gateway_unavailable', unresolved: true }),
    ).toMatchObject({ reason: 'payment_failed' })
  })

  it('reads a version 1 order like a version 2 one', () => {
    const v1 = {
      ...base,
      customerId: 'c',
      items: [{ sku: 'MUG', quantity: 2 }],
      sealedPaymentToken: 'sealed.v1.x',
    }
    expect(toAnalyticsEvent('orders.created', v1)).toStrictEqual({
      kind: 'created',
      orderId: A,
      at: T0,
      items: [{ sku: 'MUG', quantity: 2 }],
    })
  })
})
