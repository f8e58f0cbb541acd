import * as v from 'valibot'
import { CancellationReasonSchema } from './events.ts'
import {
  ApiKeyIdSchema,
  CentsSchema,
  CustomerIdSchema,
  OrderIdSchema,
  PrioritySchema,
  SeenItemSchema,
  TimestampSchema,
} from './primitives.ts'

export const OrderStatusValueSchema = v.picklist(['pending', 'reserved', 'confirmed', 'cancelled'])
export type OrderStatusValue = v.InferOutput<typeof OrderStatusValueSchema>

/** An order's saga is over: it is `confirmed` or `cancelled` (a refund may still follow a confirmation). */
export const isFinalStatus = (status: OrderStatusValue): boolean =>
  status === 'confirmed' || status === 'cancelled'

/** A charge the processor took for the order. */
export const OrderChargeSchema = v.object({
  chargeId: v.string(),
  amountCents: CentsSchema,
  at: TimestampSchema,
})

/** Money given back: a paid order cancelled, or a charge found by reconciliation. */
export const OrderRefundSchema = v.object({
  refundId: v.string(),
  chargeId: v.string(),
  amountCents: CentsSchema,
  reason: v.picklist(['customer_request', 'deadline_exceeded', 'reconciliation']),
  at: TimestampSchema,
})

export const OrderHistoryEntrySchema = v.object({
  /** The subject of the event that was applied. */
  event: v.string(),
  status: OrderStatusValueSchema,
  at: TimestampSchema,
})

/**
 * The order-status projection (KV record and `GET /orders/{orderId}` body),
 * version 1. `customerId` and `items` may be missing only while a later event
 * has been applied before `orders.created` (redelivery out of order).
 */
export const OrderStatusV1 = v.object({
  orderId: OrderIdSchema,
  status: OrderStatusValueSchema,
  customerId: v.optional(CustomerIdSchema),
  /** Orders placed with a version 2 request: the customer with their email. */
  customer: v.optional(v.object({ id: CustomerIdSchema, email: v.optional(v.string()) })),
  /** The order's lane (`express` goes ahead of a standard backlog). */
  priority: v.optional(PrioritySchema),
  /** Orders placed with a version 2 request: the currency and each line's price the customer saw. */
  currency: v.optional(v.string()),
  items: v.optional(v.array(SeenItemSchema)),
  reason: v.optional(CancellationReasonSchema),
  amountCents: v.optional(CentsSchema),
  chargeId: v.optional(v.string()),
  /** The refund of the order's charge, when a paid order was cancelled. */
  refundId: v.optional(v.string()),
  /** Charges and refunds, oldest first: captured minus refunded is what the customer paid. */
  charges: v.optional(v.array(OrderChargeSchema)),
  refunds: v.optional(v.array(OrderRefundSchema)),
  /** When the order is cancelled `deadline_exceeded` unless settled before. */
  deadlineAt: v.optional(TimestampSchema),
  /** When a cancellation was asked for, and why. */
  cancelRequested: v.optional(
    v.object({ reason: v.picklist(['customer_request', 'deadline_exceeded']), at: TimestampSchema }),
  ),
  correlationId: v.optional(v.string()),
  /** The API key that placed the order. */
  owner: v.optional(ApiKeyIdSchema),
  createdAt: v.optional(TimestampSchema),
  updatedAt: TimestampSchema,
  history: v.array(OrderHistoryEntrySchema),
})

export type OrderStatus = v.InferOutput<typeof OrderStatusV1>
