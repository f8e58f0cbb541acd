import * as v from 'valibot'
import {
  CentsSchema,
  CurrencySchema,
  CustomerIdSchema,
  EmailSchema,
  PaymentTokenSchema,
  QuantitySchema,
  SkuSchema,
  PrioritySchema,
} from './primitives.ts'
import type { Priority } from './subjects.ts'

const skusDiffer = (items: { sku: string }[]): boolean =>
  new Set(items.map((i) => i.sku)).size === items.length

const MAX_ITEMS = 100

/**
 * What would not read as it is on an operator's screen: control characters
 * (C0, DEL, C1), format characters (the bidirectional marks, overrides and
 * isolates, zero-width spaces and joiners, the soft hyphen, U+FEFF), line and
 * paragraph separators, lone surrogates, the combining grapheme joiner
 * U+034F, the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0), the blank
 * braille pattern U+2800, a variation selector U+FE00-U+FE0F anywhere but
 * after an emoji or a keycap's digit, a zero-width joiner anywhere but
 * between two emoji (a family, a profession), and five combining marks in a
 * row.
 * U+202E turns "ecila" into "alice" on screen; U+200B, U+3164 and U+FE0F
 * hide inside "alice". Visible spaces (no-break, ideographic) are taken as
 * an ASCII space is.
 */
const UNSHOWABLE =
  /(?!\u200d)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u034f\u115f\u1160\u3164\uffa0\u2800]|(?<![\p{Extended_Pictographic}0-9#*])[\ufe00-\ufe0f]|(?<!\p{Extended_Pictographic}|\ufe0f|\p{Emoji_Modifier})\u200d|\u200d(?!\p{Extended_Pictographic})|\p{M}{5}/u

/** A customer id as a new order gives it; events keep the wider schema, so old events still read. */
const NewCustomerIdSchema = v.pipe(
  CustomerIdSchema,
  v.check((id) => !UNSHOWABLE.test(id), 'must not contain invisible, control or formatting characters'),
)

/**
 * The list's own rules, also when one of its items is invalid: Valibot skips
 * `minLength`, `maxLength` and `check` once an item has an issue, so a body of
 * 150 items with one bad quantity would first be told only about the quantity.
 * The typed case is left to the actions, which the JSON Schema export reads.
 */
const itemListRulesWhenItemsInvalid = <Item extends { sku: string }>() =>
  v.rawCheck<Item[]>(({ dataset, addIssue }) => {
    if (dataset.typed || !Array.isArray(dataset.value)) return
    const items: unknown[] = dataset.value
    if (items.length > MAX_ITEMS) addIssue({ message: `must hold at most ${MAX_ITEMS} items` })
    const skus = items.flatMap((item) =>
      item !== null && typeof item === 'object' && typeof (item as { sku?: unknown }).sku === 'string'
        ? [(item as { sku: string }).sku]
        : [],
    )
    if (new Set(skus).size !== skus.length) addIssue({ message: 'must not repeat a sku' })
  })

/** `POST /orders` body, version 1. Unknown fields are rejected (strict objects). */
export const CreateOrderRequestV1 = v.strictObject({
  customerId: NewCustomerIdSchema,
  items: v.pipe(
    v.array(v.strictObject({ sku: SkuSchema, quantity: QuantitySchema })),
    v.minLength(1, 'must hold at least 1 item'),
    v.maxLength(MAX_ITEMS, `must hold at most ${MAX_ITEMS} items`),
    v.check((items) => skusDiffer(items), 'must not repeat a sku'),
    itemListRulesWhenItemsInvalid(),
  ),
  paymentToken: PaymentTokenSchema,
  /** `express` orders go ahead of standard ones at every stage, if the API key may ask for it. */
  priority: v.optional(PrioritySchema),
})

/**
 * `POST /orders` body, version 2: the customer as an object with an email,
 * the currency, and the unit price the customer saw on each line (kept with
 * the order; the stock's own price is what is charged).
 */
export const CreateOrderRequestV2 = v.strictObject({
  customer: v.strictObject({ id: NewCustomerIdSchema, email: EmailSchema }),
  currency: CurrencySchema,
  items: v.pipe(
    v.array(v.strictObject({ sku: SkuSchema, quantity: QuantitySchema, unitPriceCents: CentsSchema })),
    v.minLength(1, 'must hold at least 1 item'),
    v.maxLength(MAX_ITEMS, `must hold at most ${MAX_ITEMS} items`),
    v.check((items) => skusDiffer(items), 'must not repeat a sku'),
    itemListRulesWhenItemsInvalid(),
  ),
  paymentToken: PaymentTokenSchema,
  priority: v.optional(PrioritySchema),
})

export type CreateOrderRequestV1Body = v.InferOutput<typeof CreateOrderRequestV1>
export type CreateOrderRequestV2Body = v.InferOutput<typeof CreateOrderRequestV2>

/**
 * An order request of either version, as the intake works with it: version 1
 * has no email, currency or seen prices.
 */
export interface CreateOrderRequest {
  customer: { id: string; email?: string }
  currency?: string
  items: { sku: string; quantity: number; unitPriceCents?: number }[]
  paymentToken: string
  priority?: Priority
}

/** The version a body is written in: a `customer` object is version 2; anything else is read as version 1. */
export function requestVersionOf(body: unknown): 1 | 2 {
  return body !== null && typeof body === 'object' && 'customer' in body ? 2 : 1
}

export function fromRequestV1(body: CreateOrderRequestV1Body): CreateOrderRequest {
  return {
    customer: { id: body.customerId },
    items: body.items,
    paymentToken: body.paymentToken,
    ...(body.priority === undefined ? {} : { priority: body.priority }),
  }
}

export function fromRequestV2(body: CreateOrderRequestV2Body): CreateOrderRequest {
  const { priority, ...rest } = body
  return { ...rest, ...(priority === undefined ? {} : { priority }) }
}
