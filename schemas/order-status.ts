import * as v from 'valibot'
import { CancellationReasonSchema } from './events.ts'
import {
  ApiKeyIdSchema,
  CustomerIdSchema,
  OrderIdSchema,
  OrderItemSchema,
  TimestampSchema,
} from './primitives.ts'

export const OrderStatusValueSchema = v.picklist(['pending', 'reserved', 'confirmed', 'cancelled'])
export type OrderStatusValue = v.InferOutput<typeof OrderStatusValueSchema>

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
  items: v.optional(v.array(OrderItemSchema)),
  reason: v.optional(CancellationReasonSchema),
  amountCents: v.optional(v.number()),
  chargeId: v.optional(v.string()),
  correlationId: v.optional(v.string()),
  /** The API key that placed the order. */
  owner: v.optional(ApiKeyIdSchema),
  createdAt: v.optional(TimestampSchema),
  updatedAt: TimestampSchema,
  history: v.array(OrderHistoryEntrySchema),
})

export type OrderStatus = v.InferOutput<typeof OrderStatusV1>
