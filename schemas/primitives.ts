import * as v from 'valibot'
import { PRIORITIES } from './subjects.ts'

export const OrderIdSchema = v.pipe(v.string(), v.uuid('must be a UUID'))

/**
 * When an order id was minted, from its UUIDv7 timestamp (ms since the epoch);
 * `null` for any other UUID version (e.g. a client's own id).
 */
export function mintedAt(orderId: string): number | null {
  if (orderId.length !== 36 || orderId[14] !== '7') return null
  const ms = Number.parseInt(orderId.slice(0, 8) + orderId.slice(9, 13), 16)
  return Number.isFinite(ms) ? ms : null
}

export const SkuSchema = v.pipe(
  v.string(),
  v.regex(/^[A-Z0-9][A-Z0-9-]{0,31}$/, 'must be 1-32 characters of A-Z, 0-9 and -, not starting with -'),
)

export const QuantitySchema = v.pipe(
  v.number(),
  v.integer('must be an integer'),
  v.minValue(1, 'must be at least 1'),
  v.maxValue(1000, 'must be at most 1000'),
)

export const CentsSchema = v.pipe(v.number(), v.integer('must be an integer'), v.minValue(0, 'must be >= 0'))

export const CurrencySchema = v.pipe(v.string(), v.regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'))

/** Whether a timestamp's date exists: `Date.parse` rolls 2026-02-30 over to March 2. */
export function isCalendarDate(text: string): boolean {
  const [year, month, day] = text.slice(0, 10).split('-').map(Number)
  if (year === undefined || month === undefined || day === undefined) return false
  return new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day
}

const IsoTimestamp = v.pipe(v.string(), v.isoTimestamp())

/** Its day exists and the runtime reads it as one instant (its ISO form checked apart). */
const readsAsInstant = (text: string): boolean => isCalendarDate(text) && Number.isFinite(Date.parse(text))

/**
 * An ISO 8601 timestamp as ms since the epoch, or null: its day must exist
 * and the runtime must read it as one instant. Valibot's `isoTimestamp`
 * alone lets through forms `Date.parse` cannot read (`+01` as an offset)
 * and days that do not exist.
 */
export function instantOf(text: string): number | null {
  return v.is(IsoTimestamp, text) && readsAsInstant(text) ? Date.parse(text) : null
}

/** A time every service reads the same way (see `instantOf`); the ISO form is checked once. */
export const TimestampSchema = v.pipe(
  v.string(),
  v.isoTimestamp('must be an ISO 8601 timestamp'),
  v.check(readsAsInstant, 'must be an ISO 8601 timestamp of a day that exists, e.g. 2026-01-01T10:00:00Z'),
)

export const CustomerIdSchema = v.pipe(
  v.string(),
  v.minLength(1, 'must not be empty'),
  v.maxLength(64, 'must be at most 64 characters'),
)

/** An email address as customers type it (checked loosely: the mail server is the real check). */
export const EmailSchema = v.pipe(
  v.string(),
  v.maxLength(254, 'must be at most 254 characters'),
  v.email('must be an email address'),
)

/** A card token: its messages never repeat what was sent (a card number sent by mistake stays unechoed). */
export const PaymentTokenSchema = v.pipe(
  v.string('must be a string'),
  v.minLength(1, 'must not be empty'),
  v.maxLength(128, 'must be at most 128 characters'),
)

/** A card token sealed for the payment service (shared/security/sealed-token.ts); never the token itself. */
export const SealedPaymentTokenSchema = v.pipe(
  v.string(),
  v.startsWith('sealed.v1.', 'must be a sealed token'),
  v.maxLength(1024, 'must be at most 1024 characters'),
)

/** The id of the API key that placed an order (its owner). */
export const ApiKeyIdSchema = v.pipe(
  v.string(),
  v.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be 1-64 characters of a-z, 0-9, _ and -'),
)

/** An order's lane: `express` orders go ahead of a backlog of `standard` ones. */
export const PrioritySchema = v.picklist(PRIORITIES, 'must be standard or express')

export const OrderItemSchema = v.object({ sku: SkuSchema, quantity: QuantitySchema })

/** Whether no sku appears twice among an order's lines (a sku is one line, its quantity the units). */
export const skusDiffer = (items: readonly { sku: string }[]): boolean =>
  new Set(items.map((i) => i.sku)).size === items.length

export const PricedItemSchema = v.object({
  sku: SkuSchema,
  quantity: QuantitySchema,
  unitPriceCents: CentsSchema,
})

/** An order line with the unit price the customer saw (when the request said). */
export const SeenItemSchema = v.object({
  sku: SkuSchema,
  quantity: QuantitySchema,
  unitPriceCents: v.optional(CentsSchema),
})

export type OrderItem = v.InferOutput<typeof OrderItemSchema>
export type PricedItem = v.InferOutput<typeof PricedItemSchema>
