/*
 * What the analytics worker keeps in KV, as Valibot schemas (records are
 * validated when read):
 * - `analytics-orders`, key = order id: the facts analytics has seen of one
 *   order, each with the stream sequence of the event that told it;
 * - `analytics-windows`, key `w.<generation>.<yyyymmddhhmm>`: one minute of
 *   event time, its aggregates and the highest stream sequence applied to it;
 *   key `active`: which generation of windows is the current one.
 */
import * as v from 'valibot'
import { CancellationReasonSchema } from '../../schemas/events.ts'
import { CurrencySchema, OrderIdSchema, OrderItemSchema } from '../../schemas/primitives.ts'

const Seq = v.pipe(v.number(), v.integer(), v.minValue(1))
const Count = v.pipe(v.number(), v.integer(), v.minValue(0))
/** Epoch milliseconds. */
const Millis = v.pipe(v.number(), v.integer())

export const OrderFactsSchema = v.object({
  orderId: OrderIdSchema,
  created: v.optional(v.object({ seq: Seq, at: Millis, items: v.array(OrderItemSchema) })),
  confirmed: v.optional(v.object({ seq: Seq, at: Millis, amountCents: Count, currency: CurrencySchema })),
  cancelled: v.optional(v.object({ seq: Seq, at: Millis, reason: CancellationReasonSchema })),
  refunds: v.array(
    v.object({ seq: Seq, at: Millis, refundId: v.string(), amountCents: Count, currency: CurrencySchema }),
  ),
})
export type OrderFacts = v.InferOutput<typeof OrderFactsSchema>

const MoneySchema = v.object({
  /** Amounts of the orders confirmed in the window. */
  revenueCents: Count,
  /** Every refund made in the window (reconciliation's too). */
  refundedCents: Count,
  /**
   * Refunds that gave back a confirmed order's charge: those of this window's
   * refunds made after the confirmation, and those stored before a confirmation
   * of this window (so it can exceed `refundedCents`, which counts the latter in
   * their own window).
   */
  refundedRevenueCents: Count,
})
export type Money = v.InferOutput<typeof MoneySchema>

export const WindowSchema = v.object({
  /** Start of the minute, epoch ms. */
  minute: Millis,
  /** Highest stream sequence applied to this window (ORDERS). */
  seq: Count,
  created: Count,
  confirmed: Count,
  cancelled: v.record(CancellationReasonSchema, Count),
  /** By currency (ISO 4217). */
  money: v.record(v.string(), MoneySchema),
  refunds: Count,
  /** Units of the orders confirmed in the window, by sku. */
  skuUnits: v.record(v.string(), Count),
  /** Saga durations (created to first final event) ending in the window: log-scale histogram. */
  durations: v.record(v.string(), Count),
})
export type WindowRecord = v.InferOutput<typeof WindowSchema>

export const MetaSchema = v.object({
  generation: v.pipe(v.string(), v.regex(/^[a-z0-9]{1,16}$/)),
  since: v.string(),
  /** Set by a replay: the first minute it rebuilt. */
  replayedFrom: v.optional(v.string()),
})
export type Meta = v.InferOutput<typeof MetaSchema>
