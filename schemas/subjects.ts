/**
 * Every subject, stream and header name of the order flow, in one place.
 * Subjects name what happened (past tense); the schema version travels in the
 * `Event-Version` header so a v2 can be published beside v1 later.
 */
export const SUBJECTS = {
  orderCreated: 'orders.created',
  orderCancelled: 'orders.cancelled',
  inventoryReserved: 'inventory.reserved',
  inventoryReleased: 'inventory.released',
  paymentCompleted: 'payments.completed',
  paymentFailed: 'payments.failed',
} as const

export type Subject = (typeof SUBJECTS)[keyof typeof SUBJECTS]

/** The saga's events share one stream, so a projection reads them in causal order. */
export const STREAMS = {
  orders: { name: 'ORDERS', subjects: ['orders.>', 'inventory.>', 'payments.>'] },
  deadLetters: { name: 'DLQ', subjects: ['dlq.>'] },
} as const

/** Dead letters of subject `s` are published on `dlq.<s>`. */
export const DEAD_LETTER_PREFIX = 'dlq'
export function toDeadLetterSubject(subject: string): string {
  return `${DEAD_LETTER_PREFIX}.${subject}`
}

/** NATS header names carried by every event. */
export const HEADERS = {
  correlationId: 'X-Correlation-ID',
  eventVersion: 'Event-Version',
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
} as const
