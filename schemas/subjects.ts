/**
 * Every subject, stream and header name of the order flow, in one place.
 * Subjects name what happened (past tense); the schema version travels in the
 * `Event-Version` header so a v2 can be published beside v1 later.
 */
export const SUBJECTS = {
  orderCreated: 'orders.created',
  orderCancelled: 'orders.cancelled',
  /** A customer's cancellation, or an order's deadline (fired by nats-server's scheduler). */
  orderCancelRequested: 'orders.cancel_requested',
  inventoryReserved: 'inventory.reserved',
  inventoryReleased: 'inventory.released',
  paymentCompleted: 'payments.completed',
  paymentFailed: 'payments.failed',
  paymentRefunded: 'payments.refunded',
} as const

export type Subject = (typeof SUBJECTS)[keyof typeof SUBJECTS]

/**
 * Priority lanes. Every event of an `express` order is published on its
 * subject with the lane's suffix (`orders.created.express`, ...), read by
 * its own consumers with their own concurrency, so a backlog of standard
 * orders never stands in front of an express one. Standard orders keep the
 * plain subjects. docs/priority.md has the design and its measurements.
 */
export const PRIORITIES = ['standard', 'express'] as const
export type Priority = (typeof PRIORITIES)[number]
export const EXPRESS_SUFFIX = '.express'

/**
 * The events that travel in a lane: every event of an order's own flow,
 * its cancellation request too (the customer's, and the deadline's, whose
 * schedule targets the lane subject).
 */
export const LANE_SUBJECTS: readonly Subject[] = [
  SUBJECTS.orderCreated,
  SUBJECTS.orderCancelRequested,
  SUBJECTS.orderCancelled,
  SUBJECTS.inventoryReserved,
  SUBJECTS.inventoryReleased,
  SUBJECTS.paymentCompleted,
  SUBJECTS.paymentFailed,
  SUBJECTS.paymentRefunded,
]

/** The subject an event of `subject` is published on in `priority`'s lane. */
export function laneSubject(subject: Subject, priority: Priority): string {
  return priority === 'express' && LANE_SUBJECTS.includes(subject) ? `${subject}${EXPRESS_SUFFIX}` : subject
}

/** A message subject's event subject and lane (`orders.created.express` -> `orders.created`, express). */
export function splitLane(subject: string): { subject: string; priority: Priority } {
  return subject.endsWith(EXPRESS_SUFFIX)
    ? { subject: subject.slice(0, -EXPRESS_SUFFIX.length), priority: 'express' }
    : { subject, priority: 'standard' }
}

/** The saga's events share one stream, so a projection reads them in causal order. */
export const STREAMS = {
  orders: { name: 'ORDERS', subjects: ['orders.>', 'inventory.>', 'payments.>'] },
  deadLetters: { name: 'DLQ', subjects: ['dlq.>'] },
  /**
   * Order deadlines, in a stream of their own: a stream that allows message
   * schedules must also allow roll-up headers (nats-server forces it), and
   * anyone who may publish into it may schedule any of its subjects. Only the
   * inventory identity publishes here; ORDERS allows neither.
   */
  deadlines: { name: 'DEADLINES', subjects: ['deadlines.>'] },
} as const

/**
 * Order deadlines: one schedule per order on `deadlines.pending.<orderId>`
 * (nats-server message schedules, `Nats-Schedule: @at <time>`, ADR-51) in
 * DEADLINES. When it is due, the server publishes its payload, an
 * `orders.cancel_requested` with reason `deadline_exceeded`, on
 * `deadlines.fired.<event subject in the order's lane>` and removes the
 * schedule; the inventory worker relays that into ORDERS as the event itself.
 */
export const DEADLINE_SCHEDULE_PREFIX = 'deadlines.pending'
export function toDeadlineScheduleSubject(orderId: string): string {
  return `${DEADLINE_SCHEDULE_PREFIX}.${orderId}`
}

/** The de-duplication id of an order's deadline: its schedule's, and its relayed event's in ORDERS. */
export const deadlineMsgId = (orderId: string): string => `deadline:${orderId}`

/** Where a due deadline is published: `deadlines.fired.orders.cancel_requested[.express]`. */
export const DEADLINE_FIRED_PREFIX = 'deadlines.fired'
export function toDeadlineFiredSubject(eventSubject: string): string {
  return `${DEADLINE_FIRED_PREFIX}.${eventSubject}`
}

/**
 * Where releases before the DEADLINES stream held their schedules, in ORDERS:
 * those still pending fire straight on `orders.cancel_requested`. Consumers
 * skip the holders (they carry `Nats-Schedule`).
 */
export const LEGACY_DEADLINE_SCHEDULE_PREFIX = 'orders.deadlines'

/** Dead letters of subject `s` are published on `dlq.<s>`. */
export const DEAD_LETTER_PREFIX = 'dlq'
export function toDeadLetterSubject(subject: string): string {
  return `${DEAD_LETTER_PREFIX}.${subject}`
}

/** NATS header names carried by every event. */
export const HEADERS = {
  correlationId: 'X-Correlation-ID',
  eventVersion: 'Event-Version',
  /**
   * On a message published beside a twin of another version (a migration
   * window): the twin's version. A reader of that version skips this one.
   */
  twinVersion: 'Event-Twin-Version',
  /** JetStream de-duplication id. */
  msgId: 'Nats-Msg-Id',
} as const

/** Headers set on a dead-lettered copy. */
export const DEAD_LETTER_HEADERS = {
  reason: 'Dlq-Reason',
  subject: 'Dlq-Original-Subject',
  stream: 'Dlq-Original-Stream',
  sequence: 'Dlq-Original-Sequence',
  deliveries: 'Dlq-Delivery-Count',
  consumer: 'Dlq-Consumer',
  time: 'Dlq-Time',
} as const

/** KV buckets (JetStream key-value). */
export const BUCKETS = {
  orderStatus: 'order-status',
  idempotency: 'order-idempotency',
  stock: 'inventory-stock',
  reservations: 'inventory-reservations',
  /** Who settles each order: the first of `paying` (payment) or `cancelled` (either worker) wins. */
  decisions: 'order-decisions',
  /** Charges and refunds the payment worker is still checking with the processor. */
  reconciliation: 'payment-reconciliation',
  /** Analytics: per order, the facts it counted, each with its event's stream sequence. */
  analyticsOrders: 'analytics-orders',
  /** Analytics: one record per minute of event time (and generation), and the active generation. */
  analyticsWindows: 'analytics-windows',
} as const
