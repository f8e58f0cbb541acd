/*
 * Pure stock rules. Every operation is keyed by order id, so applying it twice
 * is the same as applying it once: redelivery never reserves twice and never
 * leaks stock.
 */
import { MAX_RETURNS_KEPT, type SetStockRequest, type StockRecord } from './records.ts'

export function reservedOf(record: StockRecord): number {
  return Object.values(record.holds).reduce((sum, hold) => sum + hold.quantity, 0)
}

export function availableOf(record: StockRecord): number {
  return record.onHand - reservedOf(record)
}

export interface StockView {
  sku: string
  onHand: number
  reserved: number
  available: number
  priceCents: number
}

export function toStockView(record: StockRecord): StockView {
  const reserved = reservedOf(record)
  return {
    sku: record.sku,
    onHand: record.onHand,
    reserved,
    available: record.onHand - reserved,
    priceCents: record.priceCents,
  }
}

export type HoldDecision =
  | { kind: 'held'; record: StockRecord; unitPriceCents: number }
  | { kind: 'already_held'; unitPriceCents: number }
  | { kind: 'short'; available: number }

/** Takes a hold of `quantity` for `orderId`, if the stock allows. */
export function takeHold(record: StockRecord | null, orderId: string, quantity: number): HoldDecision {
  if (record === null) return { kind: 'short', available: 0 }
  const existing = record.holds[orderId]
  if (existing !== undefined) return { kind: 'already_held', unitPriceCents: existing.unitPriceCents }
  const available = availableOf(record)
  if (available < quantity) return { kind: 'short', available }
  return {
    kind: 'held',
    unitPriceCents: record.priceCents,
    record: {
      ...record,
      holds: { ...record.holds, [orderId]: { quantity, unitPriceCents: record.priceCents } },
    },
  }
}

/** Drops the order's hold; `null` when there is none (already released). */
export function releaseHold(record: StockRecord | null, orderId: string): StockRecord | null {
  if (record === null || record.holds[orderId] === undefined) return null
  const { [orderId]: _released, ...holds } = record.holds
  return { ...record, holds }
}

/** Turns the order's hold into a sale; `null` when there is none (already sold). */
export function sellHold(record: StockRecord | null, orderId: string): StockRecord | null {
  const hold = record?.holds[orderId]
  if (record === null || hold === undefined) return null
  const { [orderId]: _sold, ...holds } = record.holds
  return { ...record, onHand: record.onHand - hold.quantity, sold: record.sold + hold.quantity, holds }
}

/**
 * Puts an order's sold units back on hand (its payment was refunded); `null`
 * when that order's return was applied before.
 */
export function returnSale(
  record: StockRecord | null,
  orderId: string,
  quantity: number,
  maxKept = MAX_RETURNS_KEPT,
): StockRecord | null {
  if (record === null || record.returned?.[orderId] !== undefined) return null
  const kept = Object.entries(record.returned ?? {}).slice(-(maxKept - 1))
  return {
    ...record,
    onHand: record.onHand + quantity,
    sold: Math.max(0, record.sold - quantity),
    returned: { ...Object.fromEntries(kept), [orderId]: quantity },
  }
}

/**
 * A refunded order's units back: its hold dropped if the sale has not reached
 * the stock yet (a sale applied later finds no hold and changes nothing), or
 * its sold units returned; `null` when done before. A dropped hold is
 * recorded as a return of 0 units, so a second pass (a redelivery after a
 * crash before the reservation's `returnPending` was cleared, a concurrent
 * delivery) finds the return done instead of putting back units that were
 * never sold.
 */
export function returnOrRelease(
  record: StockRecord | null,
  orderId: string,
  quantity: number,
  maxKept = MAX_RETURNS_KEPT,
): StockRecord | null {
  if (record === null) return null
  if (record.holds[orderId] === undefined) return returnSale(record, orderId, quantity, maxKept)
  const { [orderId]: _released, ...holds } = record.holds
  const kept = Object.entries(record.returned ?? {})
    .filter(([id]) => id !== orderId)
    .slice(-(maxKept - 1))
  return { ...record, holds, returned: { ...Object.fromEntries(kept), [orderId]: 0 } }
}

export type SetStockDecision =
  | { kind: 'ok'; record: StockRecord; created: boolean }
  | { kind: 'below_reserved'; reserved: number }
  /** `If-Match` named other values than the record's (`etag`: its tag now; null: no record). */
  | { kind: 'precondition_failed'; etag: string | null }

/**
 * The stock's entity tag: its settable values (on hand and price), which a
 * PUT replaces. It changes when a sale, a return or an admin changes them,
 * not when holds come and go, so `If-Match` protects a price change from
 * writing back an on-hand count a sale has changed since it was read.
 */
export function stockTag(record: Pick<StockRecord, 'onHand' | 'priceCents'>): string {
  return `"${record.onHand}-${record.priceCents}"`
}

/**
 * Whether an `If-Match` header's condition holds for the record: `*` for any
 * record, else one of its entity tags compared strongly (a weak `W/` tag
 * never matches, RFC 9110 13.1.1). No header: always.
 */
export function ifMatchHolds(ifMatch: string | undefined, record: StockRecord | null): boolean {
  if (ifMatch === undefined) return true
  if (record === null) return false
  const tags = ifMatch.split(',').map((t) => t.trim())
  return tags.includes('*') || tags.includes(stockTag(record))
}

/** Sets on-hand units and price; never below what is held for open orders. */
export function setStock(
  record: StockRecord | null,
  sku: string,
  request: SetStockRequest,
  ifMatch?: string,
): SetStockDecision {
  if (!ifMatchHolds(ifMatch, record))
    return { kind: 'precondition_failed', etag: record === null ? null : stockTag(record) }
  if (record === null) {
    return {
      kind: 'ok',
      created: true,
      record: { sku, onHand: request.onHand, priceCents: request.priceCents, sold: 0, holds: {} },
    }
  }
  const reserved = reservedOf(record)
  if (request.onHand < reserved) return { kind: 'below_reserved', reserved }
  return {
    kind: 'ok',
    created: false,
    record: { ...record, onHand: request.onHand, priceCents: request.priceCents },
  }
}
