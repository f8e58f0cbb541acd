import * as v from 'valibot'
import {
  CentsSchema,
  CurrencySchema,
  CustomerIdSchema,
  EmailSchema,
  OrderIdSchema,
  OrderItemSchema,
  SealedPaymentTokenSchema,
  ApiKeyIdSchema,
  PricedItemSchema,
  PrioritySchema,
  SeenItemSchema,
  SkuSchema,
  TimestampSchema,
  skusDiffer,
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
  /** Absent: standard. Every event of an express order travels in the express lane. */
  priority: v.optional(PrioritySchema),
})

/**
 * OrderCreated, version 2: the customer as an object (id and email), the
 * currency and the unit price the customer saw on each line. Version 1
 * readers cannot take it (no `customerId`): during a migration both are
 * published (docs/contracts.md). Email, currency and seen prices are absent
 * for an order placed with a version 1 request.
 */
export const OrderCreatedV2 = v.object({
  version: v.literal(2),
  orderId: OrderIdSchema,
  occurredAt: TimestampSchema,
  customer: v.object({ id: CustomerIdSchema, email: v.optional(EmailSchema) }),
  currency: v.optional(CurrencySchema),
  items: v.pipe(v.array(SeenItemSchema), v.minLength(1), v.maxLength(100)),
  /** The card token, sealed for the payment service: no other reader can open it. */
  sealedPaymentToken: SealedPaymentTokenSchema,
  /** The API key that placed the order; only that key (or an admin) may read it. */
  owner: v.optional(ApiKeyIdSchema),
  /** Absent: standard. Every event of an express order travels in the express lane. */
  priority: v.optional(PrioritySchema),
})

export const CancellationReasonSchema = v.picklist([
  'out_of_stock',
  'payment_declined',
  'payment_failed',
  'customer_request',
  'deadline_exceeded',
])

/** Why a cancellation was asked for: by the customer, or by the order's deadline. */
export const CancelRequestReasonSchema = v.picklist(['customer_request', 'deadline_exceeded'])

export const OrderCancelRequestedV1 = v.object({
  ...base,
  reason: CancelRequestReasonSchema,
  /** The API key that asked (customer requests). */
  requestedBy: v.optional(ApiKeyIdSchema),
})

export const OrderCancelledV1 = v.object({
  ...base,
  reason: CancellationReasonSchema,
  /** Skus that were short, for `out_of_stock`. */
  shortSkus: v.optional(v.array(SkuSchema)),
  /** Set when the order had been paid: the refund of its charge. */
  refundId: v.optional(v.pipe(v.string(), v.minLength(1))),
})

export const InventoryReservedV1 = v.object({
  ...base,
  items: v.pipe(v.array(PricedItemSchema), v.minLength(1)),
  amountCents: CentsSchema,
  currency: CurrencySchema,
  sealedPaymentToken: SealedPaymentTokenSchema,
  /** When the order is cancelled `deadline_exceeded` if not settled; no charge starts after it. */
  deadlineAt: v.optional(TimestampSchema),
})

export const InventoryReleasedV1 = v.object({
  ...base,
  items: v.array(OrderItemSchema),
  /** Why the stock went back: the payment failed, or the order was cancelled. */
  reason: v.picklist(['payment_failed', 'customer_request', 'deadline_exceeded']),
  /** True when the units had been sold (a paid order cancelled and refunded) and are back on hand. */
  returned: v.optional(v.boolean()),
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
  /**
   * The processor never answered the charge: whether it was taken is unknown,
   * and the payment worker keeps checking (a charge found later is refunded).
   */
  unresolved: v.optional(v.boolean()),
})

export const PaymentRefundedV1 = v.object({
  ...base,
  chargeId: v.pipe(v.string(), v.minLength(1)),
  /** What the charge took. */
  chargedCents: CentsSchema,
  refundId: v.pipe(v.string(), v.minLength(1)),
  amountCents: CentsSchema,
  currency: CurrencySchema,
  /**
   * `customer_request` / `deadline_exceeded`: a paid order was cancelled;
   * `reconciliation`: a charge the processor took after the order was
   * cancelled (an answer that never arrived) was found and given back.
   */
  reason: v.picklist(['customer_request', 'deadline_exceeded', 'reconciliation']),
})

export type OrderCreatedV1Event = v.InferOutput<typeof OrderCreatedV1>
/** An order as the workers handle it: version 2 (version 1 events are upcast to it). */
export type OrderCreated = v.InferOutput<typeof OrderCreatedV2>
export type OrderCancelled = v.InferOutput<typeof OrderCancelledV1>
export type CancellationReason = v.InferOutput<typeof CancellationReasonSchema>
export type InventoryReserved = v.InferOutput<typeof InventoryReservedV1>
export type InventoryReleased = v.InferOutput<typeof InventoryReleasedV1>
export type PaymentCompleted = v.InferOutput<typeof PaymentCompletedV1>
export type PaymentFailed = v.InferOutput<typeof PaymentFailedV1>
export type PaymentRefunded = v.InferOutput<typeof PaymentRefundedV1>
export type OrderCancelRequested = v.InferOutput<typeof OrderCancelRequestedV1>
export type CancelRequestReason = v.InferOutput<typeof CancelRequestReasonSchema>

/** The one place version 1 of OrderCreated becomes version 2. */
export function upcastOrderCreated(event: OrderCreatedV1Event | OrderCreated): OrderCreated {
  if (event.version === 2) return event
  return {
    version: 2,
    orderId: event.orderId,
    occurredAt: event.occurredAt,
    customer: { id: event.customerId },
    items: event.items.map(({ sku, quantity }) => ({ sku, quantity })),
    sealedPaymentToken: event.sealedPaymentToken,
    ...(event.owner === undefined ? {} : { owner: event.owner }),
    ...(event.priority === undefined ? {} : { priority: event.priority }),
  }
}

/** Version 1 of an order, for readers that know only version 1 (published during a migration). */
export function downcastOrderCreated(event: OrderCreated): OrderCreatedV1Event {
  return {
    version: 1,
    orderId: event.orderId,
    occurredAt: event.occurredAt,
    customerId: event.customer.id,
    items: event.items.map(({ sku, quantity }) => ({ sku, quantity })),
    sealedPaymentToken: event.sealedPaymentToken,
    ...(event.owner === undefined ? {} : { owner: event.owner }),
    ...(event.priority === undefined ? {} : { priority: event.priority }),
  }
}

/**
 * The schema of each subject's payload (every version this code reads).
 * Built in a call marked pure, so a bundle that reads none of it (the
 * Worker) leaves it and the schemas only it names out: an object literal with
 * computed keys is kept even when nothing reads it.
 */
export const EVENT_SCHEMAS = /* @__PURE__ */ (() =>
  ({
    // Both versions are read; handlers upcast version 1 (upcastOrderCreated).
    // A sku named on two lines is refused as the request is (it would be
    // priced twice and held once): a dead letter, `schema_violation`.
    [SUBJECTS.orderCreated]: v.pipe(
      v.variant('version', [OrderCreatedV1, OrderCreatedV2]),
      v.forward(
        v.check((event) => skusDiffer(event.items), 'must not repeat a sku'),
        ['items'],
      ),
    ),
    [SUBJECTS.orderCancelled]: OrderCancelledV1,
    [SUBJECTS.orderCancelRequested]: OrderCancelRequestedV1,
    [SUBJECTS.inventoryReserved]: InventoryReservedV1,
    [SUBJECTS.inventoryReleased]: InventoryReleasedV1,
    [SUBJECTS.paymentCompleted]: PaymentCompletedV1,
    [SUBJECTS.paymentFailed]: PaymentFailedV1,
    [SUBJECTS.paymentRefunded]: PaymentRefundedV1,
  }) as const satisfies Record<Subject, v.GenericSchema>)()

/**
 * The versions of each subject's events this code reads. A consumer acks and
 * skips an event whose `Event-Version` header names another (a newer
 * producer's, during a migration), instead of dead-lettering it.
 */
export const EVENT_VERSIONS: Record<Subject, readonly number[]> = /* @__PURE__ */ (() => ({
  [SUBJECTS.orderCreated]: [1, 2],
  [SUBJECTS.orderCancelled]: [1],
  [SUBJECTS.orderCancelRequested]: [1],
  [SUBJECTS.inventoryReserved]: [1],
  [SUBJECTS.inventoryReleased]: [1],
  [SUBJECTS.paymentCompleted]: [1],
  [SUBJECTS.paymentFailed]: [1],
  [SUBJECTS.paymentRefunded]: [1],
}))()

export type EventOf<S extends Subject> = v.InferOutput<(typeof EVENT_SCHEMAS)[S]>
