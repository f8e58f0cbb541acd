/*
 * Who settles an order. One record per order in the `order-decisions` bucket,
 * written only by compare-and-set, so exactly one of two things happens:
 *
 * - the payment worker claims it (`paying`) before its first charge attempt:
 *   from then on only the payment worker decides the order's money (charge,
 *   decline, refund) and a cancellation request is handed to it; or
 * - a cancellation (customer request, deadline, or out of stock) claims it
 *   first (`cancelled`): no charge is ever attempted for it.
 *
 * The inventory worker and the payment worker both handle cancellation
 * requests and race for the record; whoever creates `cancelled` publishes
 * `orders.cancelled`, and the inventory worker releases the stock on that.
 */
import type { KV } from '@nats-io/kv'
import * as v from 'valibot'
import { CancellationReasonSchema } from '../../schemas/events.ts'
import { CentsSchema, CurrencySchema, OrderIdSchema, TimestampSchema } from '../../schemas/primitives.ts'
import { isRevisionConflict, KvConflictError, KvRecordError } from '../nats/kv-json.ts'
import { sendAtEndOfTurn } from '../nats/end-of-turn.ts'
import { laneYield } from '../nats/lane-yield.ts'
import { rememberRecent } from '../runtime/remember-recent.ts'

/** The payment worker's side of a `paying` order. */
export const PaymentStateSchema = v.picklist([
  /** A charge may be in flight: never guess its outcome. */
  'charging',
  'charged',
  'declined',
  /** The processor never answered within the budget: cancelled, and reconciliation checks the key. */
  'unresolved',
  /** Charged, then cancelled: the refund is being made (or retried by reconciliation). */
  'refunding',
  'refunded',
])
export type PaymentState = v.InferOutput<typeof PaymentStateSchema>

export const OrderDecisionV1 = v.object({
  orderId: OrderIdSchema,
  decision: v.picklist(['paying', 'cancelled']),
  /** Why the order was cancelled (a `cancelled` decision, or a paid order cancelled later). */
  reason: v.optional(CancellationReasonSchema),
  decidedBy: v.picklist(['inventory', 'payment']),
  decidedAt: TimestampSchema,
  updatedAt: TimestampSchema,
  payment: v.optional(
    v.object({
      state: PaymentStateSchema,
      amountCents: CentsSchema,
      currency: CurrencySchema,
      chargeId: v.optional(v.string()),
      /** A cancellation that arrived while the charge was in flight: applied once it settles. */
      cancelRequested: v.optional(v.picklist(['customer_request', 'deadline_exceeded'])),
      /**
       * The order's deadline, from its `inventory.reserved` (records of
       * earlier releases have none): a cancellation that comes after it does
       * not wait on a charge still unsettled.
       */
      deadlineAt: v.optional(TimestampSchema),
      refundId: v.optional(v.string()),
      /** What the refund gave back (a record without it: the whole charge). */
      refundedCents: v.optional(CentsSchema),
    }),
  ),
})
export type OrderDecision = v.InferOutput<typeof OrderDecisionV1>
export type PaymentPart = NonNullable<OrderDecision['payment']>

export type Decider = OrderDecision['decidedBy']

export type Change<R> = (
  current: OrderDecision | null,
) => { value: OrderDecision; result: R } | { value?: undefined; result: R }

export interface UpdateOptions {
  /**
   * An order this store knows nothing about is taken to be new: the first
   * write is a create, with no read. A record already there costs one
   * conflict and a read, then `change` decides again on what is stored.
   */
  assumeAbsent?: boolean
}

/** Compare-and-set updates of order decisions (KV in the workers; memory in unit tests). */
export interface DecisionStore {
  read(orderId: string): Promise<OrderDecision | null>
  update<R>(orderId: string, change: Change<R>, options?: UpdateOptions): Promise<R>
}

/** A record as stored at `revision` (`value` null: none; revision 0: never written, else a tombstone). */
interface Seen {
  value: OrderDecision | null
  revision: number
}
const ABSENT: Seen = { value: null, revision: 0 }
const MAX_ATTEMPTS = 50
const encoder = new TextEncoder()

/**
 * The `order-decisions` bucket. Every write is a compare-and-set at the
 * revision its change was decided on (as the record writer's,
 * shared/nats/record-writer.ts), but the first attempt
 * starts from the record this process last wrote or read (kept for the newest
 * `cacheSize` orders) instead of reading it again: the payment worker's claim
 * (a create) and its settle (an update at the claim's revision) cost a write
 * each and no read. A guess that is stale (another process wrote since) fails
 * its compare-and-set and costs one read; a decision not to write is only
 * ever taken on a fresh read. So every outcome is decided on the record as
 * stored, exactly as with a read before each write.
 */
export function kvDecisionStore(kv: KV, { cacheSize = 10_000 }: { cacheSize?: number } = {}): DecisionStore {
  const known = new Map<string, Seen & { value: OrderDecision }>()

  const remember = (orderId: string, seen: Seen & { value: OrderDecision }): void => {
    const had = known.get(orderId)
    if (had !== undefined && had.revision > seen.revision) return // a later one is known already
    rememberRecent(known, orderId, seen, cacheSize)
  }

  async function load(orderId: string): Promise<Seen> {
    const entry = await kv.get(orderId)
    if (entry === null || entry.operation !== 'PUT' || entry.length === 0) {
      known.delete(orderId)
      // A tombstone (deleted or purged by hand) is written over at its own revision.
      return entry === null ? ABSENT : { value: null, revision: entry.revision }
    }
    const parsed = v.safeParse(OrderDecisionV1, entry.json())
    if (!parsed.success) {
      throw new KvRecordError(`${orderId} holds an invalid decision: ${parsed.issues[0]?.message ?? ''}`)
    }
    const seen = { value: parsed.output, revision: entry.revision }
    remember(orderId, seen)
    return seen
  }

  async function update<R>(orderId: string, change: Change<R>, options: UpdateOptions = {}): Promise<R> {
    const held = laneYield()
    if (held !== undefined) await held
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const guess =
        attempt === 1
          ? (known.get(orderId) ?? (options.assumeAbsent === true ? ABSENT : undefined))
          : undefined
      const current = guess ?? (await load(orderId))
      const next = change(current.value)
      if (next.value === undefined) {
        if (guess !== undefined) continue // "leave it" is decided on what is stored, never on a guess
        return next.result
      }
      try {
        const data = encoder.encode(JSON.stringify(next.value))
        // previousSeq 0: only if the key has never been written (a create, failing without a read).
        const revision = await sendAtEndOfTurn(() => kv.put(orderId, data, { previousSeq: current.revision }))
        remember(orderId, { value: next.value, revision })
        return next.result
      } catch (error) {
        if (!isRevisionConflict(error)) throw error
        if (known.get(orderId)?.revision === current.revision) known.delete(orderId)
        // Lost a race: read and decide again. A short random pause spreads repeated retries.
        if (attempt > 3) await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, attempt * 5)))
      }
    }
    throw new KvConflictError(`${orderId}: gave up after ${MAX_ATTEMPTS} conflicting updates`)
  }

  return {
    read: async (orderId) => {
      const held = laneYield()
      if (held !== undefined) await held
      return (await load(orderId)).value
    },
    update,
  }
}

export function memoryDecisionStore(): DecisionStore & { records: Map<string, OrderDecision> } {
  const records = new Map<string, OrderDecision>()
  return {
    records,
    read: (orderId) => Promise.resolve(records.get(orderId) ?? null),
    update: <R>(orderId: string, change: Change<R>) => {
      const next = change(records.get(orderId) ?? null)
      if (next.value !== undefined) records.set(orderId, structuredClone(next.value))
      return Promise.resolve(next.result)
    },
  }
}

export type CancelClaim =
  /** This call cancelled the order: publish `orders.cancelled`. */
  | { kind: 'cancelled'; decision: OrderDecision }
  /** Cancelled before (by this worker: publish again, the message id makes it once). */
  | { kind: 'already_cancelled'; decision: OrderDecision }
  /** The payment worker owns the order. */
  | { kind: 'paying'; decision: OrderDecision }

/**
 * The change that claims an order as cancelled unless the payment worker
 * claimed it first (for callers that decide more in the same write).
 */
export function cancellationClaim(
  orderId: string,
  reason: OrderDecision['reason'] & string,
  by: Decider,
  now: () => Date,
): Change<CancelClaim> {
  return (current) => {
    if (current === null) {
      const at = now().toISOString()
      const decision: OrderDecision = {
        orderId,
        decision: 'cancelled',
        reason,
        decidedBy: by,
        decidedAt: at,
        updatedAt: at,
      }
      return { value: decision, result: { kind: 'cancelled', decision } }
    }
    return current.decision === 'cancelled'
      ? { result: { kind: 'already_cancelled', decision: current } }
      : { result: { kind: 'paying', decision: current } }
  }
}

/** Claims the order as cancelled unless the payment worker claimed it first. */
export function claimCancellation(
  store: DecisionStore,
  orderId: string,
  reason: OrderDecision['reason'] & string,
  by: Decider,
  now: () => Date,
  options?: UpdateOptions,
): Promise<CancelClaim> {
  return store.update<CancelClaim>(orderId, cancellationClaim(orderId, reason, by, now), options)
}

/** How far ahead of the stream's clock an intake's clock may run before its `occurredAt` is not believed. */
export const CLOCK_SKEW_ALLOWANCE_MS = 60_000

/**
 * When an order was created, for its deadline: its `orders.created`'s
 * `occurredAt`, unless that is later than the stream stored the event (plus
 * a clock-skew allowance), and then the stored time. The publisher writes
 * `occurredAt` and nothing else bounds it: an event dated years ahead would
 * hold its stock until then (an intake's credentials are enough to publish
 * one). An earlier `occurredAt` is kept as it is: it only brings the
 * order's own deadline nearer.
 */
export function orderCreatedAt(occurredAt: string, storedAt: number | undefined): string {
  if (storedAt === undefined || !Number.isFinite(storedAt)) return occurredAt
  const at = Date.parse(occurredAt)
  return at > storedAt + CLOCK_SKEW_ALLOWANCE_MS ? new Date(storedAt).toISOString() : occurredAt
}

/** Deadline of an order created at `createdAt` (ISO), `deadlineMs` later. */
export function deadlineOf(createdAt: string, deadlineMs: number): string {
  return new Date(Date.parse(createdAt) + deadlineMs).toISOString()
}
