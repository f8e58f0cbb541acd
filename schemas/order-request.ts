import * as v from 'valibot'
import { CustomerIdSchema, PaymentTokenSchema, QuantitySchema, SkuSchema } from './primitives.ts'

/** `POST /orders` body, version 1. Unknown fields are rejected (strict objects). */
export const CreateOrderRequestV1 = v.strictObject({
  customerId: CustomerIdSchema,
  items: v.pipe(
    v.array(v.strictObject({ sku: SkuSchema, quantity: QuantitySchema })),
    v.minLength(1, 'must hold at least 1 item'),
    v.maxLength(100, 'must hold at most 100 items'),
    v.check((items) => new Set(items.map((i) => i.sku)).size === items.length, 'must not repeat a sku'),
  ),
  paymentToken: PaymentTokenSchema,
})

export type CreateOrderRequest = v.InferOutput<typeof CreateOrderRequestV1>
