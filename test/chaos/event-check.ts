// What the ORDERS stream says about each order. Every orders.created belongs
// to an order a client got a 202 for (no key made two orders); no event twice,
// never both paid and failed; every final order has its whole saga in the
// stream; the projection applied every event; and the status and reason a
// client reads agree with the events.
import { SUBJECTS } from '../../schemas/subjects.ts'
import type { OrderView } from '../support/saga-stack.ts'
import { sample, type CheckResult } from './report.ts'
import type { SagaEvent } from './stream-check.ts'

/**
 * The status and reason an order's events add up to. A cancellation wins (a
 * paid order may still be cancelled and refunded); a failed payment names its
 * reason; then the furthest step reached.
 */
function expectedOutcome(own: readonly SagaEvent[]): string {
  const cancelled = own.find((e) => e.subject === SUBJECTS.orderCancelled)
  if (cancelled !== undefined) return `cancelled/${cancelled.reason ?? '?'}`
  const failed = own.find((e) => e.subject === SUBJECTS.paymentFailed)
  if (failed !== undefined)
    return `cancelled/${failed.reason === 'declined' ? 'payment_declined' : 'payment_failed'}`
  const subjects = own.map((e) => e.subject)
  if (subjects.includes(SUBJECTS.paymentCompleted)) return 'confirmed'
  return subjects.includes(SUBJECTS.inventoryReserved) ? 'reserved' : 'pending'
}

const PAYMENT_FAILURE_CHAIN = [
  SUBJECTS.orderCreated,
  SUBJECTS.inventoryReserved,
  SUBJECTS.paymentFailed,
  SUBJECTS.inventoryReleased,
] as const

/** The events a saga that ended so leaves in the stream. */
function chainOf(expected: string, subjects: readonly string[]): readonly string[] {
  switch (expected) {
    case 'confirmed':
      return [SUBJECTS.orderCreated, SUBJECTS.inventoryReserved, SUBJECTS.paymentCompleted]
    case 'cancelled/out_of_stock':
      return [SUBJECTS.orderCreated, SUBJECTS.orderCancelled]
    case 'cancelled/payment_declined':
    case 'cancelled/payment_failed':
      return PAYMENT_FAILURE_CHAIN
    case 'cancelled/deadline_exceeded':
    case 'cancelled/customer_request':
      // Stock released when some was reserved (cancelled before its reservation: nothing held).
      return subjects.includes(SUBJECTS.inventoryReserved)
        ? [SUBJECTS.orderCreated, SUBJECTS.orderCancelled, SUBJECTS.inventoryReleased]
        : [SUBJECTS.orderCreated, SUBJECTS.orderCancelled]
    default:
      return []
  }
}

/**
 * A deadline that fires once the order is settled changes nothing, and the
 * projection does not show it; whether it came first is not in the stream.
 */
const settledDeadline = (e: SagaEvent): boolean =>
  e.subject === SUBJECTS.orderCancelRequested && e.reason === 'deadline_exceeded'

const outcome = (
  ok: boolean,
  good: string,
  bad: readonly string[],
  n = 2,
): Pick<CheckResult, 'ok' | 'detail'> => ({
  ok,
  detail: ok ? good : `${bad.length}: ${sample(bad, n)}`,
})

/** `views`: every accepted order read back after the consumers drained. */
export function checkEvents(
  events: readonly SagaEvent[],
  acceptedIds: ReadonlySet<string>,
  views: ReadonlyMap<string, OrderView>,
): CheckResult[] {
  const byOrder = new Map<string, SagaEvent[]>()
  for (const e of events) byOrder.set(e.orderId, [...(byOrder.get(e.orderId) ?? []), e])
  const orphans = [...byOrder.keys()].filter((id) => !acceptedIds.has(id))
  const created = (id: string): boolean =>
    byOrder.get(id)?.some((e) => e.subject === SUBJECTS.orderCreated) ?? false
  const neverPublished = [...acceptedIds].filter((id) => !created(id))
  const inconsistent: string[] = []
  const brokenChain: string[] = []
  const unseen: string[] = []
  const disagreeing: string[] = []
  for (const [orderId, own] of byOrder) {
    const subjects = own.map((e) => e.subject)
    const twice = subjects.filter((s, i) => subjects.indexOf(s) !== i)
    const failed = subjects.includes(SUBJECTS.paymentFailed)
    const paidAndFailed = subjects.includes(SUBJECTS.paymentCompleted) && failed
    const cancelledAs = own.find((e) => e.subject === SUBJECTS.orderCancelled)?.reason
    const failedAndCancelled = failed && cancelledAs !== undefined
    const reservedAndShort = subjects.includes(SUBJECTS.inventoryReserved) && cancelledAs === 'out_of_stock'
    if (twice.length > 0 || paidAndFailed || failedAndCancelled || reservedAndShort)
      inconsistent.push(`${orderId}: ${subjects.join(' ')}`)
    const expected = expectedOutcome(own)
    const missing = chainOf(expected, subjects).filter((s) => !subjects.includes(s))
    if (missing.length > 0) brokenChain.push(`${orderId} ${expected} without ${missing.join(' ')}`)
    const view = views.get(orderId)
    if (view === undefined) continue
    const applied = new Set(view.history.map((h) => h.event))
    const notApplied = own.filter((e) => !applied.has(e.subject) && !settledDeadline(e)).map((e) => e.subject)
    if (notApplied.length > 0)
      unseen.push(`${orderId} (${view.status}) never applied ${notApplied.join(' ')}`)
    const shown = view.status === 'cancelled' ? `cancelled/${view.reason ?? '?'}` : view.status
    if (shown !== expected)
      disagreeing.push(`${orderId}: shows ${shown}, events say ${expected} (${subjects.join(' ')})`)
  }
  const createdDetail = `${events.length} events of ${byOrder.size} orders for ${acceptedIds.size} accepted`
  return [
    {
      check: 'orders.created: one per accepted order, no orphans',
      ...outcome(orphans.length + neverPublished.length === 0, createdDetail, [
        ...orphans.map((id) => `orphan ${id}`),
        ...neverPublished.map((id) => `never published ${id}`),
      ]),
    },
    {
      check: "each order's events consistent (none twice)",
      ...outcome(inconsistent.length === 0, 'all', inconsistent),
    },
    {
      check: 'every final saga complete in the stream',
      ...outcome(brokenChain.length === 0, 'all', brokenChain),
    },
    {
      check: 'projection applied every event',
      ...outcome(unseen.length === 0, `${views.size} orders`, unseen),
    },
    {
      check: 'GET /orders status+reason = its events',
      ...outcome(disagreeing.length === 0, `${views.size} orders agree`, disagreeing),
    },
  ]
}
