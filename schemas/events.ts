import * as v from 'valibot'
import {
  CentsSchema,
  CurrencySchema,
  CustomerIdSchema,
  OrderIdSchema,
  OrderItemSchema,
  SealedPaymentTokenSchema,
  ApiKeyIdSchema,
  PricedItemSchema,
  SkuSchema,
  TimestampSchema,
} from './primitives.ts'
import { SUBJECTS, type Subject } from './subjects.ts'

/*
 * Events, version 1. Event objects are not strict: a consumer must accept
 * fields added by a later minor revision (forward compatibility); a breaking
 * change gets a new version published beside this one.
 */
const base = {
  version: v.literal(1),
  orderId: OrderIdSchema,
  occurredAt: TimestampSchema,
}

export const OrderCreatedV1 = v.object({
  ...base,
  customerId: CustomerIdSchema,
  items: v.pipe(v.array(OrderItemSchema), v.minLength(1), v.maxLength(100)),
  /** The card token, sealed for the payment service: no other reader can open it. */
  sealedPaymentToken: SealedPaymentTokenSchema,
  /** The API key that placed the order; only that key (or an admin) may read it. */
  owner: v.optional(ApiKeyIdSchema),
})

export const CancellationReasonSchema = v.picklist(['out_of_stock', 'payment_declined', 'payment_failed'])

export const OrderCancelledV1 = v.object({
  ...base,
  reason: CancellationReasonSchema,
  /** Skus that were short, for `out_of_stock`. */
  shortSkus: v.optional(v.array(SkuSchema)),
})

export const InventoryReservedV1 = v.object({
  ...base,
  items: v.pipe(v.array(PricedItemSchema), v.minLength(1)),
  amountCents: CentsSchema,
  currency: CurrencySchema,
  sealedPaymentToken: SealedPaymentTokenSchema,
})

export const InventoryReleasedV1 = v.object({
  ...base,
  items: v.array(OrderItemSchema),
  reason: v.picklist(['payment_failed']),
})

export const PaymentCompletedV1 = v.object({
  ...base,
  chargeId: v.pipe(v.string(), v.minLength(1)),
  amountCents: CentsSchema,
  currency: CurrencySchema,
})

export const PaymentFailedV1 = v.object({
  ...base,
  reason: v.picklist(['declined', 'gateway_unavailable']),
  message: v.optional(v.string()),
})

export type OrderCreated = v.InferOutput<typeof OrderCreatedV1>
export type OrderCancelled = v.InferOutput<typeof OrderCancelledV1>
export type CancellationReason = v.InferOutput<typeof CancellationReasonSchema>
export type InventoryReserved = v.InferOutput<typeof InventoryReservedV1>
export type InventoryReleased = v.InferOutput<typeof InventoryReleasedV1>
export type PaymentCompleted = v.InferOutput<typeof PaymentCompletedV1>
export type PaymentFailed = v.InferOutput<typeof PaymentFailedV1>

/** The v1 schema of each subject's payload. */
export const EVENT_SCHEMAS = {
  [SUBJECTS.orderCreated]: OrderCreatedV1,
  [SUBJECTS.orderCancelled]: OrderCancelledV1,
  [SUBJECTS.inventoryReserved]: InventoryReservedV1,
  [SUBJECTS.inventoryReleased]: InventoryReleasedV1,
  [SUBJECTS.paymentCompleted]: PaymentCompletedV1,
  [SUBJECTS.paymentFailed]: PaymentFailedV1,
} as const satisfies Record<Subject, v.GenericSchema>

export type EventOf<S extends Subject> = v.InferOutput<(typeof EVENT_SCHEMAS)[S]>
