/*
 * Pure rules of the analytics worker: what an event tells about its order
 * (a fact, kept per order with the event's stream sequence), and what it adds
 * to its minute of event time (a contribution). No I/O.
 *
 * Exactly once: a fact is recorded once per order (the first event of its
 * kind by stream sequence wins), and an event's contribution is computed
 * from the facts with a lower sequence only, so it is the same on every
 * delivery, after a crash and in a replay.
 */
import { upcastOrderCreated, type CancellationReason, type EventOf } from '../../schemas/events.ts'
import { SUBJECTS } from '../../schemas/subjects.ts'
import type { OrderFacts } from './records.ts'

/** The subjects analytics reads. */
export const ANALYTICS_SUBJECTS = [
  SUBJECTS.orderCreated,
  SUBJECTS.paymentCompleted,
  SUBJECTS.paymentFailed,
  SUBJECTS.orderCancelled,
  SUBJECTS.paymentRefunded,
] as const
export type AnalyticsSubject = (typeof ANALYTICS_SUBJECTS)[number]

interface Item {
  sku: string
  quantity: number
}

/** What one event tells analytics; `at` is its event time (occurredAt) in epoch ms. */
export type AnalyticsEvent =
  | { kind: 'created'; orderId: string; at: number; items: readonly Item[] }
  | { kind: 'confirmed'; orderId: string; at: number; amountCents: number; currency: string }
  | { kind: 'cancelled'; orderId: string; at: number; reason: CancellationReason }
  | { kind: 'refunded'; orderId: string; at: number; refundId: string; amountCents: number; currency: string }

/**
 * An event as analytics sees it. A failed payment ends the order like the
 * projection says (`payment_declined`, or `payment_failed` when the
 * processor never answered), whether or not an `orders.cancelled` follows.
 */
export function toAnalyticsEvent<S extends AnalyticsSubject>(subject: S, event: EventOf<S>): AnalyticsEvent {
  const at = Date.parse(event.occurredAt)
  const { orderId } = event
  switch (subject) {
    case SUBJECTS.orderCreated: {
      const created = upcastOrderCreated(event as EventOf<typeof SUBJECTS.orderCreated>)
      return {
        kind: 'created',
        orderId,
        at,
        items: created.items.map(({ sku, quantity }) => ({ sku, quantity })),
      }
    }
    case SUBJECTS.paymentCompleted: {
      const { amountCents, currency } = event as EventOf<typeof SUBJECTS.paymentCompleted>
      return { kind: 'confirmed', orderId, at, amountCents, currency }
    }
    case SUBJECTS.paymentFailed: {
      const { reason } = event as EventOf<typeof SUBJECTS.paymentFailed>
      return {
        kind: 'cancelled',
        orderId,
        at,
        reason: reason === 'declined' ? 'payment_declined' : 'payment_failed',
      }
    }
    case SUBJECTS.orderCancelled:
      return {
        kind: 'cancelled',
        orderId,
        at,
        reason: (event as EventOf<typeof SUBJECTS.orderCancelled>).reason,
      }
    default: {
      const { refundId, amountCents, currency } = event as EventOf<typeof SUBJECTS.paymentRefunded>
      return { kind: 'refunded', orderId, at, refundId, amountCents, currency }
    }
  }
}

/** Refunds kept per order (a paid order has one; more would be a processor's odd case); later ones are not counted. */
export const MAX_REFUNDS_PER_ORDER = 32

const emptyFacts = (orderId: string): OrderFacts => ({ orderId, refunds: [] })

/** The facts as they were before the event at stream sequence `seq`. */
export function factsBefore(facts: OrderFacts | null, orderId: string, seq: number): OrderFacts {
  if (facts === null) return emptyFacts(orderId)
  const keep = <T extends { seq: number }>(fact: T | undefined): T | undefined =>
    fact !== undefined && fact.seq < seq ? fact : undefined
  const created = keep(facts.created)
  const confirmed = keep(facts.confirmed)
  const cancelled = keep(facts.cancelled)
  return {
    orderId,
    ...(created ? { created } : {}),
    ...(confirmed ? { confirmed } : {}),
    ...(cancelled ? { cancelled } : {}),
    refunds: facts.refunds.filter((r) => r.seq < seq),
  }
}

/** The first of two facts by stream sequence. */
const first = <T extends { seq: number }>(current: T | undefined, candidate: T): T =>
  current !== undefined && current.seq <= candidate.seq ? current : candidate

/**
 * The facts with the event at `seq` recorded; null when they already hold
 * it (a redelivery) or an earlier event of its kind (a repeated event).
 */
export function recordFact(facts: OrderFacts | null, event: AnalyticsEvent, seq: number): OrderFacts | null {
  const current = facts ?? emptyFacts(event.orderId)
  let next: OrderFacts
  switch (event.kind) {
    case 'created': {
      const created = first(current.created, { seq, at: event.at, items: [...event.items] })
      next = { ...current, created }
      break
    }
    case 'confirmed': {
      const { at, amountCents, currency } = event
      next = { ...current, confirmed: first(current.confirmed, { seq, at, amountCents, currency }) }
      break
    }
    case 'cancelled':
      next = { ...current, cancelled: first(current.cancelled, { seq, at: event.at, reason: event.reason }) }
      break
    case 'refunded': {
      const existing = current.refunds.find((r) => r.refundId === event.refundId)
      if (existing !== undefined && existing.seq <= seq) return null
      if (existing === undefined && current.refunds.length >= MAX_REFUNDS_PER_ORDER) return null
      const { at, refundId, amountCents, currency } = event
      const others = current.refunds.filter((r) => r.refundId !== event.refundId)
      next = { ...current, refunds: [...others, { seq, at, refundId, amountCents, currency }] }
      break
    }
  }
  const unchanged =
    facts !== null &&
    next.created === facts.created &&
    next.confirmed === facts.confirmed &&
    next.cancelled === facts.cancelled &&
    next.refunds === facts.refunds
  return unchanged ? null : next
}

/** What one event adds to the window of its minute. */
export interface Contribution {
  /** Start of the event's minute (event time), epoch ms. */
  minute: number
  created?: true
  confirmed?: { amountCents: number; currency: string; items: readonly Item[] }
  cancelled?: CancellationReason
  /** `ofRevenue`: it gave back the charge of an order confirmed before it. */
  refund?: { amountCents: number; currency: string; ofRevenue: boolean }
  /**
   * With `confirmed`: the refunds of the order stored before its
   * confirmation (a cancellation that raced the charge), given back from the
   * revenue this confirmation adds; they were counted as refunds already.
   */
  refundedEarlier?: { amountCents: number; currency: string }
  /** Created to this event, when it is the order's first final event and its creation is known. */
  durationMs?: number
}

export const MINUTE_MS = 60_000
export const toMinute = (at: number): number => Math.floor(at / MINUTE_MS) * MINUTE_MS

/**
 * The contribution of `event` given the facts recorded before it (see
 * {@link factsBefore}); null when it adds nothing (an order created,
 * confirmed or cancelled twice, a refund seen before).
 */
export function contributionOf(before: OrderFacts, event: AnalyticsEvent): Contribution | null {
  const minute = toMinute(event.at)
  const duration = (): { durationMs?: number } =>
    before.confirmed !== undefined || before.cancelled !== undefined || before.created === undefined
      ? {}
      : { durationMs: Math.max(0, event.at - before.created.at) }
  switch (event.kind) {
    case 'created':
      return before.created === undefined ? { minute, created: true } : null
    case 'confirmed': {
      if (before.confirmed !== undefined) return null
      const { amountCents, currency } = event
      const earlier = before.refunds
        .filter((r) => r.currency === currency)
        .reduce((sum, r) => sum + r.amountCents, 0)
      return {
        minute,
        confirmed: { amountCents, currency, items: before.created?.items ?? [] },
        ...(earlier > 0 ? { refundedEarlier: { amountCents: earlier, currency } } : {}),
        ...duration(),
      }
    }
    case 'cancelled':
      return before.cancelled === undefined ? { minute, cancelled: event.reason, ...duration() } : null
    case 'refunded': {
      if (before.refunds.some((r) => r.refundId === event.refundId)) return null
      // Past the refunds an order's facts keep, a refund cannot be told from
      // its own copy published again: it is not counted, on any delivery.
      if (before.refunds.length >= MAX_REFUNDS_PER_ORDER) return null
      const { amountCents, currency } = event
      return { minute, refund: { amountCents, currency, ofRevenue: before.confirmed !== undefined } }
    }
  }
}
