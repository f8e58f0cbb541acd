/*
 * Pure rules of the order service: building the OrderCreated event and the
 * order-status projection. No I/O.
 */
import { upcastOrderCreated, type EventOf, type OrderCreated } from '../../schemas/events.ts'
import type { CreateOrderRequest } from '../../schemas/order-request.ts'
import type { OrderStatus, OrderStatusValue } from '../../schemas/order-status.ts'
import { SUBJECTS, type Priority, type Subject } from '../../schemas/subjects.ts'

/**
 * The event of an accepted order; the card token arrives already sealed for
 * the payment service. `owner` is the id of the API key that placed it.
 */
export function toOrderCreated(
  request: CreateOrderRequest,
  orderId: string,
  now: Date,
  sealedPaymentToken: string,
  owner?: string,
): OrderCreated {
  return {
    version: 2,
    orderId,
    occurredAt: now.toISOString(),
    customer: { ...request.customer },
    ...(request.currency === undefined ? {} : { currency: request.currency }),
    items: request.items.map((item) => ({ ...item })),
    sealedPaymentToken,
    ...(owner === undefined ? {} : { owner }),
    // Standard is the default: a standard order's events are what they were before lanes.
    ...(request.priority === 'express' ? { priority: 'express' as const } : {}),
  }
}

/**
 * Whether an API key may read an order: an admin key reads every order, a
 * client key only the orders it placed (an order from before owners were
 * recorded has none, so only an admin reads it).
 */
export function canRead(order: Pick<OrderStatus, 'owner'>, key: { id: string; role: string }): boolean {
  return key.role === 'admin' || (order.owner !== undefined && order.owner === key.id)
}

/** Key order and whitespace do not change what a request means. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/**
 * Statuses only move up. `cancelled` is above `confirmed`: a paid order can
 * still be cancelled (and refunded), a cancelled one is never revived.
 */
const RANK: Record<OrderStatusValue, number> = { pending: 0, reserved: 1, confirmed: 2, cancelled: 3 }

export interface EventMeta {
  /** When the projection applied it. */
  at: string
  correlationId: string
  /**
   * The lane it arrived on: every event of an order travels in the order's
   * lane, so a record whose `orders.created` is still on its way (a
   * projection that crashed holding it gets it again after its ack wait)
   * shows its priority all the same.
   */
  lane?: Priority
}

/** The status an event moves an order to (`current`: events that move nothing). */
function statusOf<S extends Subject>(
  subject: S,
  event: EventOf<S>,
  current: OrderStatusValue,
): Pick<OrderStatus, 'status' | 'reason'> {
  switch (subject) {
    case SUBJECTS.orderCancelRequested:
    case SUBJECTS.paymentRefunded:
      return { status: current }
    case SUBJECTS.orderCreated:
      return { status: 'pending' }
    case SUBJECTS.inventoryReserved:
      return { status: 'reserved' }
    case SUBJECTS.paymentCompleted:
      return { status: 'confirmed' }
    case SUBJECTS.orderCancelled:
      return { status: 'cancelled', reason: (event as EventOf<typeof SUBJECTS.orderCancelled>).reason }
    case SUBJECTS.paymentFailed: {
      const failure = (event as EventOf<typeof SUBJECTS.paymentFailed>).reason
      return { status: 'cancelled', reason: failure === 'declined' ? 'payment_declined' : 'payment_failed' }
    }
    case SUBJECTS.inventoryReleased:
      // Stock released after a failed payment: cancelled, but the reason is the
      // payment failure's (which may be applied before or after this one).
      return { status: 'cancelled' }
    default:
      return { status: 'pending' }
  }
}

/**
 * Applies one event to the projection. Returns the new record, or `null` when
 * nothing changes (the event was already applied). The status never moves
 * backwards: a late or repeated event is recorded at most once in the history
 * and cannot undo a later state; a cancelled order stays cancelled, and a
 * confirmed one moves only to cancelled (paid, then cancelled and refunded).
 */
export function applyEvent<S extends Subject>(
  current: OrderStatus | null,
  subject: S,
  event: EventOf<S>,
  meta: EventMeta,
): OrderStatus | null {
  if (subject === SUBJECTS.paymentRefunded) {
    const { refundId } = event as EventOf<typeof SUBJECTS.paymentRefunded>
    if (current?.refunds?.some((r) => r.refundId === refundId)) return null
  } else if (
    current?.history.some((h) => h.event === subject) &&
    !replacesDeadline(current, subject, event)
  ) {
    return subject === SUBJECTS.orderCreated
      ? completedByVersion2(current, event as EventOf<typeof SUBJECTS.orderCreated>, meta)
      : null
  }
  if (
    subject === SUBJECTS.orderCancelRequested &&
    current !== null &&
    RANK[current.status] >= RANK.confirmed &&
    (event as EventOf<typeof SUBJECTS.orderCancelRequested>).reason === 'deadline_exceeded' &&
    // The payment worker cancels an order whose charge is unsettled at its
    // deadline without waiting for the deadline's request, which then comes
    // after: it is that cancellation's step, and shown.
    !(current.status === 'cancelled' && current.reason === 'deadline_exceeded')
  ) {
    // A deadline firing after the order was settled otherwise changes nothing: not shown.
    return null
  }
  const record: OrderStatus = current
    ? { ...current, history: [...current.history] }
    : {
        orderId: event.orderId,
        status: 'pending',
        updatedAt: meta.at,
        history: [],
        correlationId: meta.correlationId,
      }

  if (meta.lane !== undefined) record.priority ??= meta.lane
  if (subject === SUBJECTS.orderCreated) {
    const created = upcastOrderCreated(event as EventOf<typeof SUBJECTS.orderCreated>)
    record.customerId = created.customer.id
    if (created.customer.email !== undefined) record.customer = created.customer
    if (created.currency !== undefined) record.currency = created.currency
    record.priority = created.priority ?? 'standard'
    record.items = created.items
    record.createdAt = created.occurredAt
    if (created.owner !== undefined) record.owner = created.owner
  }
  if (subject === SUBJECTS.inventoryReserved) {
    const reserved = event as EventOf<typeof SUBJECTS.inventoryReserved>
    record.amountCents = reserved.amountCents
    if (reserved.deadlineAt !== undefined) record.deadlineAt = reserved.deadlineAt
  }
  if (subject === SUBJECTS.paymentCompleted) {
    const paid = event as EventOf<typeof SUBJECTS.paymentCompleted>
    record.chargeId = paid.chargeId
    // The amount charged is the amount reserved. A confirmed order shows it even
    // while its inventory.reserved is still on its way (a projection that
    // crashed holding it gets it again only when its ack wait runs out).
    record.amountCents ??= paid.amountCents
    if (paid.amountCents > 0) addCharge(record, paid.chargeId, paid.amountCents, paid.occurredAt)
    // A deadline that fired before the payment was recorded here (the payment
    // worker then says it again) changed nothing, as one that fires after:
    // not shown.
    if (record.status !== 'cancelled' && record.cancelRequested?.reason === 'deadline_exceeded')
      dropCancelRequest(record)
  }
  if (subject === SUBJECTS.paymentRefunded) {
    const refund = event as EventOf<typeof SUBJECTS.paymentRefunded>
    addCharge(record, refund.chargeId, refund.chargedCents, refund.occurredAt)
    record.refunds = [
      ...(record.refunds ?? []),
      {
        refundId: refund.refundId,
        chargeId: refund.chargeId,
        amountCents: refund.amountCents,
        reason: refund.reason,
        at: refund.occurredAt,
      },
    ]
    // Every refund here gives back a cancelled order's charge; one that
    // reconciliation made later (the processor could not take it at once) is
    // the order's refund as much as one made with the cancellation.
    record.refundId ??= refund.refundId
  }
  if (subject === SUBJECTS.orderCancelRequested) {
    const request = event as EventOf<typeof SUBJECTS.orderCancelRequested>
    if (current !== null && replacesDeadline(current, subject, event)) dropCancelRequest(record)
    record.cancelRequested ??= { reason: request.reason, at: request.occurredAt }
  }
  if (subject === SUBJECTS.orderCancelled) {
    const { refundId } = event as EventOf<typeof SUBJECTS.orderCancelled>
    if (refundId !== undefined) record.refundId = refundId
  }
  const target = statusOf(subject, event, record.status)

  if (RANK[target.status] > RANK[record.status]) {
    record.status = target.status
    if (target.reason !== undefined) record.reason = target.reason
  } else if (
    target.status === 'cancelled' &&
    record.status === 'cancelled' &&
    record.reason === undefined &&
    target.reason !== undefined
  ) {
    record.reason = target.reason
  }
  // History in event time, each entry with the status its event implies, so it
  // reads the same whatever order concurrent deliveries were applied in.
  record.history.push({ event: subject, status: target.status, at: event.occurredAt })
  record.history.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : RANK[a.status] - RANK[b.status]))
  record.updatedAt = meta.at
  return record
}

/** Forgets the order's recorded cancellation request, and its entry in the history. */
function dropCancelRequest(record: OrderStatus): void {
  delete record.cancelRequested
  record.history = record.history.filter((h) => h.event !== SUBJECTS.orderCancelRequested)
}

/**
 * A customer's cancellation request after a deadline's was recorded (an
 * order not settled yet): the customer's is what the order shows, since a
 * paid order's deadline changes nothing and is dropped from the record once
 * the payment is.
 */
function replacesDeadline(current: OrderStatus, subject: Subject, event: EventOf<Subject>): boolean {
  return (
    subject === SUBJECTS.orderCancelRequested &&
    RANK[current.status] < RANK.confirmed &&
    current.cancelRequested?.reason === 'deadline_exceeded' &&
    (event as EventOf<typeof SUBJECTS.orderCancelRequested>).reason === 'customer_request'
  )
}

/**
 * An order recorded from its version 1 copy (published beside version 2 in a
 * migration window, and handled first) gets what only version 2 carries when
 * that one comes: the customer's email, the currency, the prices the customer
 * saw. Nothing else changes, and nothing is added to the history; `null` when
 * there is nothing to add.
 */
function completedByVersion2(
  current: OrderStatus,
  event: EventOf<typeof SUBJECTS.orderCreated>,
  meta: EventMeta,
): OrderStatus | null {
  if (event.version !== 2) return null
  const record: OrderStatus = { ...current }
  let changed = false
  if (record.customer === undefined && event.customer.email !== undefined) {
    record.customer = event.customer
    changed = true
  }
  if (record.currency === undefined && event.currency !== undefined) {
    record.currency = event.currency
    changed = true
  }
  const seen = event.items.some((i) => i.unitPriceCents !== undefined)
  if (seen && !(record.items ?? []).some((i) => 'unitPriceCents' in i && i.unitPriceCents !== undefined)) {
    record.items = event.items
    changed = true
  }
  if (!changed) return null
  record.updatedAt = meta.at
  return record
}

function addCharge(record: OrderStatus, chargeId: string, amountCents: number, at: string): void {
  if (record.charges?.some((c) => c.chargeId === chargeId)) return
  record.charges = [...(record.charges ?? []), { chargeId, amountCents, at }]
}
