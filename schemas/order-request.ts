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
  skusDiffer,
} from './primitives.ts'
import type { Priority } from './subjects.ts'

const MAX_ITEMS = 100

/**
 * The price the customer saw, per unit: at most what a stock price may be
 * (`PUT /inventory/{sku}`), so an order's total (100 items of 1,000 units)
 * stays an exact integer that every JSON reader keeps. A check, not a
 * `maxValue`: the published request schema stays as it was (schemas/published
 * is frozen), as for the customer id's rules.
 */
const MAX_UNIT_PRICE_CENTS = 10_000_000_000
const UnitPriceSchema = v.pipe(
  CentsSchema,
  v.check((cents) => cents <= MAX_UNIT_PRICE_CENTS, `must be at most ${MAX_UNIT_PRICE_CENTS}`),
)

/** The scripts whose letters U+200C and U+200D join or keep apart (Arabic, Syriac, N'Ko). */
const JOINING = String.raw`[\p{sc=Arab}\p{sc=Syrc}\p{sc=Nkoo}]`
/** The blocks of the Indic scripts from Devanagari to Sinhala, of Myanmar and of Khmer. */
const INDIC = String.raw`[\u0900-\u0dff\u1000-\u109f\u1780-\u17ff]`
/** Their viramas (Devanagari to Malayalam, Sinhala's al-lakuna, Myanmar's virama and asat, Khmer's coeng). */
const VIRAMA = String.raw`[\u094d\u09cd\u0a4d\u0acd\u0b4d\u0bcd\u0c4d\u0ccd\u0d4d\u0dca\u1039\u103a\u17d2]`
/** A virama on a letter of those scripts, after its nukta if it has one (a half form's consonant). */
const LETTER_VIRAMA = String.raw`(?=\p{L})${INDIC}[\u093c\u09bc\u0a3c\u0abc\u0b3c\u0c3c\u0cbc\u1037]?${VIRAMA}`

/**
 * Invisible characters that are part of what a text shows, in their place:
 * a zero-width joiner between emoji (a family, a profession; also after one
 * shown as text, as the minimally-qualified sequences "🏳‍🌈" and "❤‍🔥" are
 * written), an emoji's presentation selector, a keycap's U+FE0F;
 * U+200C and U+200D between two letters of a joining script (Persian's
 * non-joiner), after an Indic letter's virama before a letter (a half form,
 * Sinhala's "ශ්‍රී"; not after a virama on a digit, or a second one) or at the end of a
 * word (a Malayalam chillu, "അവന്‍"), or between an Indic letter and a
 * virama (an eyelash ra); one Mongolian variation selector or
 * vowel separator after a Mongolian letter; the tags of the three subdivision
 * flags Unicode recommends (England, Scotland, Wales): other tags after
 * U+1F3F4 show as a black flag and hide their text. Anything else of theirs
 * is left for {@link HIDDEN}: a joiner between digits, after a danda or
 * between two Indic letters changes nothing on screen.
 */
const SHOWN_IN_PLACE = new RegExp(
  [
    String.raw`(?<=[\p{ExtPict}\p{EMod}\ufe0f])\u200d(?=\p{ExtPict})`,
    String.raw`(?<=\p{ExtPict})[\ufe0e\ufe0f]`,
    String.raw`(?<=[0-9#*])\ufe0f(?=\u20e3)`,
    String.raw`(?<=\p{L}\p{M}*)(?<=${JOINING}\p{M}*)[\u200c\u200d](?=\p{L})(?=${JOINING})`,
    String.raw`(?<=${LETTER_VIRAMA})[\u200c\u200d](?=\p{L})(?=${INDIC})`,
    String.raw`(?<=\p{L})(?<=${INDIC})\u200d(?=${VIRAMA})`,
    // Malayalam's chillu in its older encoding (letter, virama, ZWJ) ends a word.
    String.raw`(?<=[\u0d15-\u0d39]\u0d4d)\u200d(?=\s|$)`,
    String.raw`(?<=\p{L})(?<=\p{sc=Mong})[\u180b-\u180f]`,
    String.raw`(?<=\u{1f3f4})\u{e0067}\u{e0062}(?:\u{e0065}\u{e006e}\u{e0067}|\u{e0073}\u{e0063}\u{e0074}|\u{e0077}\u{e006c}\u{e0073})\u{e007f}`,
  ].join('|'),
  'gu',
)

/**
 * What would not read as it is on an operator's screen, once the above is
 * set aside: control, format, surrogate and private-use characters,
 * noncharacters (U+FDD0-FDEF and the last two of every plane), line and
 * paragraph separators, every default-ignorable code point (zero-width
 * spaces, the bidirectional marks, variation selectors, Hangul fillers,
 * tags, unassigned ones), the blank braille pattern, five combining marks in
 * a row or one at the start, and a space at either end (or only spaces).
 * U+202E turns "ecila" into "alice" on screen; U+200B, U+3164, U+FE0F and
 * "alice " all show as "alice".
 */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Co}\p{Zl}\p{Zp}\p{Cs}\p{DI}\p{NChar}\u2800]|\p{M}{5}|^[\s\p{M}]|\s$/u

const showsAsItIs = (id: string): boolean => !HIDDEN.test(id.replace(SHOWN_IN_PLACE, ''))

/** A customer id as a new order gives it; events keep the wider schema, so old events still read. */
const NewCustomerIdSchema = v.pipe(
  CustomerIdSchema,
  v.check(
    showsAsItIs,
    'must not contain invisible, control or private-use characters, nor start with a space or a combining mark, nor end with a space',
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
    v.array(v.strictObject({ sku: SkuSchema, quantity: QuantitySchema, unitPriceCents: UnitPriceSchema })),
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
