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
 * Invisible characters that are part of what a text shows, in their place:
 * a zero-width joiner between emoji (a family, a profession), an emoji's
 * presentation selector, a keycap's U+FE0F, U+200C and U+200D between two
 * letters of a script that joins them (the blocks of Arabic, Syriac and
 * N'Ko, of the Indic scripts from Devanagari to Sinhala, of Myanmar and
 * Khmer), Mongolian variation selectors after a Mongolian letter, the tags
 * of the three subdivision flags Unicode recommends (England, Scotland,
 * Wales): other tags after U+1F3F4 show as a black flag and hide their text.
 */
const SHOWN_IN_PLACE =
  // The script blocks are ranges of code points, not characters that combine.
  // eslint-disable-next-line no-misleading-character-class
  /(?<=[\p{ExtPict}\p{EMod}\ufe0f])\u200d(?=\p{ExtPict})|(?<=\p{ExtPict})[\ufe0e\ufe0f]|(?<=[0-9#*])\ufe0f(?=\u20e3)|(?<=[\u0600-\u07ff\u0900-\u0dff\u1000-\u109f\u1780-\u17ff]\p{M}*)[\u200c\u200d](?=[\u0600-\u07ff\u0900-\u0dff\u1000-\u109f\u1780-\u17ff])|(?<=\p{sc=Mong})[\u180b-\u180f]|(?<=\u{1f3f4})\u{e0067}\u{e0062}(?:\u{e0065}\u{e006e}\u{e0067}|\u{e0073}\u{e0063}\u{e0074}|\u{e0077}\u{e006c}\u{e0073})\u{e007f}/gu

/**
 * What would not read as it is on an operator's screen, once the above is
 * set aside: control, format, surrogate and private-use characters,
 * noncharacters, line and paragraph separators, every default-ignorable code
 * point (zero-width spaces, the bidirectional marks, variation selectors,
 * Hangul fillers, tags, unassigned ones), the blank braille pattern, five
 * combining marks in a row or one at the start, and a space at either end
 * (or only spaces).
 * U+202E turns "ecila" into "alice" on screen; U+200B, U+3164, U+FE0F and
 * "alice " all show as "alice".
 */
const HIDDEN =
  /[\p{Cc}\p{Cf}\p{Co}\p{Zl}\p{Zp}\p{Cs}\p{DI}\u2800\ufdd0-\ufdef\ufffe\uffff]|\p{M}{5}|^[\s\p{M}]|\s$/u

const showsAsItIs = (id: string): boolean => !HIDDEN.test(id.replace(SHOWN_IN_PLACE, ''))

/** A customer id as a new order gives it; events keep the wider schema, so old events still read. */
const NewCustomerIdSchema = v.pipe(
  CustomerIdSchema,
  v.check(
    showsAsItIs,
    'must not contain invisible, control or private-use characters, nor start with a combining mark or end with a space',
  ),
  // "Zoe" + U+0308 and "Zoë" look the same and would be two customers: one way of writing each is taken.
  v.check((id) => id.normalize('NFC') === id, 'must be in Unicode NFC (an accented letter as one character)'),
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
