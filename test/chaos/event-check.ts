// What the ORDERS stream says about each order. Every orders.created belongs
// to an order a client got a 202 for (no key made two orders); no event twice,
// never both paid and failed; every final order has its whole saga in the
// stream; the projection applied every event; and the status and reason a
// client reads agree with the events.
import { SUBJECTS } from '../../schemas/subjects.ts'
import type { OrderView } from '../support/saga-stack.ts'
import { sample, type CheckResult } from './report.ts'
import type { SagaEvent } from './stream-check.ts'

/** The status and reason an order's events add up to. */
function expectedOutcome(subjects: readonly string[], failReason: string | undefined): string {
  if (subjects.includes(SUBJECTS.paymentCompleted)) return 'confirmed'
  if (subjects.includes(SUBJECTS.orderCancelled)) return 'cancelled/out_of_stock'
  if (subjects.includes(SUBJECTS.paymentFailed)) {
    return `cancelled/${failReason === 'declined' ? 'payment_declined' : 'payment_failed'}`
  }
  return subjects.includes(SUBJECTS.inventoryReserved) ? 'reserved' : 'pending'
}

/** The events a saga that ended so leaves in the stream. */
const CHAINS: Record<string, readonly string[]> = {
  confirmed: [SUBJECTS.orderCreated, SUBJECTS.inventoryReserved, SUBJECTS.paymentCompleted],
  'cancelled/out_of_stock': [SUBJECTS.orderCreated, SUBJECTS.orderCancelled],
  'cancelled/payment_declined': [
    SUBJECTS.orderCreated,
    SUBJECTS.inventoryReserved,
    SUBJECTS.paymentFailed,
    SUBJECTS.inventoryReleased,
  ],
  'cancelled/payment_failed': [
    SUBJECTS.orderCreated,
    SUBJECTS.inventoryReserved,
    SUBJECTS.paymentFailed,
    SUBJECTS.inventoryReleased,
  ],
}

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
    const paidAndFailed =
      subjects.includes(SUBJECTS.paymentCompleted) && subjects.includes(SUBJECTS.paymentFailed)
    const reservedAndShort =
      subjects.includes(SUBJECTS.inventoryReserved) && subjects.includes(SUBJECTS.orderCancelled)
    if (twice.length > 0 || paidAndFailed || reservedAndShort)
      inconsistent.push(`${orderId}: ${subjects.join(' ')}`)
    const expected = expectedOutcome(subjects, own.find((e) => e.subject === SUBJECTS.paymentFailed)?.reason)
    const missing = (CHAINS[expected] ?? []).filter((s) => !subjects.includes(s))
    if (missing.length > 0) brokenChain.push(`${orderId} ${expected} without ${missing.join(' ')}`)
    const view = views.get(orderId)
    if (view === undefined) continue
    const applied = new Set(view.history.map((h) => h.event))
    const notApplied = subjects.filter((s) => !applied.has(s))
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
