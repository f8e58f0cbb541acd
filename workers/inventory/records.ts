import * as v from 'valibot'
import { CentsSchema, OrderItemSchema, PricedItemSchema, SkuSchema } from '../../schemas/primitives.ts'

/** One order's hold on a sku, priced when it was taken. */
export const HoldSchema = v.object({ quantity: v.number(), unitPriceCents: CentsSchema })

/**
 * A sku's stock (KV `inventory-stock`, key = sku). `onHand` counts every unit
 * in the warehouse, held ones included; `holds` are the reservations by order
 * id, so taking and releasing a hold is idempotent per order.
 */
export const StockRecordSchema = v.object({
  sku: SkuSchema,
  onHand: v.number(),
  priceCents: CentsSchema,
  sold: v.number(),
  holds: v.record(v.string(), HoldSchema),
  /**
   * Orders whose sold units came back (a paid order cancelled and refunded),
   * by order id: a return is applied once. The newest {@link MAX_RETURNS_KEPT}.
   */
  returned: v.optional(v.record(v.string(), v.number())),
})
/** Returns remembered per sku: far more than can be redelivered at once. */
export const MAX_RETURNS_KEPT = 1_000
export type StockRecord = v.InferOutput<typeof StockRecordSchema>

/** What the inventory worker decided for one order (KV `inventory-reservations`, key = order id). */
export const ReservationRecordSchema = v.object({
  orderId: v.string(),
  /**
   * `reserving`: one delivery holds a lease on deciding this order (see
   * `claimReservation`); `cancelled`: cancelled before any stock was held;
   * `returned`: sold, then the order was cancelled and the units came back.
   */
  state: v.picklist(['reserving', 'reserved', 'rejected', 'released', 'sold', 'cancelled', 'returned']),
  owner: v.optional(v.string()),
  leaseUntil: v.optional(v.number()),
  /** While `reserving`: what the order asks for, so a cancellation can release holds a stalled delivery took. */
  requested: v.optional(v.array(OrderItemSchema)),
  items: v.array(PricedItemSchema),
  amountCents: CentsSchema,
  currency: v.string(),
  shortSkus: v.array(SkuSchema),
  /**
   * `returned` only: the sold units are still to be put back on hand. Set
   * with the change to `returned`, cleared once every sku's units are back.
   * A `returned` record without it changes no stock on a later
   * `orders.cancelled` (said again past the stream's duplicate window, or
   * replayed): the per-sku record of returns keeps only the newest
   * {@link MAX_RETURNS_KEPT}, so it could not tell a second return apart.
   * Records of 0.2.0 and before carry neither this nor `stockReturned`: their
   * units were put back right after they became `returned`, so a worker of
   * 0.2.0 killed between the two, whose `orders.cancelled` comes again after
   * the upgrade, leaves those units off hand (counted short, never twice).
   */
  returnPending: v.optional(v.literal(true)),
  /** Written by an earlier release once the units were back; read as "nothing pending". */
  stockReturned: v.optional(v.literal(true)),
  updatedAt: v.string(),
})
export type ReservationRecord = v.InferOutput<typeof ReservationRecordSchema>

/** `PUT /inventory/{sku}` body. */
export const SetStockRequestSchema = v.strictObject({
  onHand: v.pipe(
    v.number(),
    v.integer('must be an integer'),
    v.minValue(0, 'must be >= 0'),
    v.maxValue(1_000_000_000, 'must be at most 1000000000'),
  ),
  priceCents: v.pipe(
    v.number(),
    v.integer('must be an integer'),
    v.minValue(0, 'must be >= 0'),
    v.maxValue(10_000_000_000, 'must be at most 10000000000'),
  ),
})
export type SetStockRequest = v.InferOutput<typeof SetStockRequestSchema>
