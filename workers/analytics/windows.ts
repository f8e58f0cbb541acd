/*
 * One minute of event time: the aggregates and the highest stream sequence
 * applied to it. Pure; the KV record is `WindowRecord` (records.ts).
 */
import { addDuration } from './durations.ts'
import type { Contribution } from './domain.ts'
import type { Money, WindowRecord } from './records.ts'

/** Skus counted by name per window; the units of any further sku count under {@link OTHER_SKU}. */
export const MAX_SKUS_PER_WINDOW = 1_000
export const OTHER_SKU = '*'
/** Currencies kept apart per window; a further one counts under {@link OTHER_CURRENCY} (ISO 4217 "no currency"). */
export const MAX_CURRENCIES_PER_WINDOW = 16
export const OTHER_CURRENCY = 'XXX'

export function emptyWindow(minute: number): WindowRecord {
  return {
    minute,
    seq: 0,
    created: 0,
    confirmed: 0,
    cancelled: {},
    money: {},
    refunds: 0,
    skuUnits: {},
    durations: {},
  }
}

const NO_MONEY: Money = { revenueCents: 0, refundedCents: 0, refundedRevenueCents: 0 }

function withMoney(
  money: WindowRecord['money'],
  currency: string,
  change: (m: Money) => Money,
): WindowRecord['money'] {
  const key =
    currency in money || Object.keys(money).length < MAX_CURRENCIES_PER_WINDOW ? currency : OTHER_CURRENCY
  return { ...money, [key]: change(money[key] ?? NO_MONEY) }
}

function withUnits(skuUnits: WindowRecord['skuUnits'], items: Contribution['confirmed']) {
  const out = { ...skuUnits }
  for (const { sku, quantity } of items?.items ?? []) {
    const key = sku in out || Object.keys(out).length < MAX_SKUS_PER_WINDOW ? sku : OTHER_SKU
    out[key] = (out[key] ?? 0) + quantity
  }
  return out
}

/**
 * The window with `contribution` (of the event at stream sequence `seq`)
 * added; null when the window already holds that sequence. Events reach a
 * window in stream order (the consumer delivers one at a time), so the
 * highest sequence applied tells every event applied before it.
 */
export function addContribution(
  window: WindowRecord,
  contribution: Contribution,
  seq: number,
): WindowRecord | null {
  if (window.seq >= seq) return null
  const { created, confirmed, cancelled, refund, refundedEarlier, durationMs } = contribution
  let money = window.money
  if (confirmed !== undefined)
    money = withMoney(money, confirmed.currency, (m) => ({
      ...m,
      revenueCents: m.revenueCents + confirmed.amountCents,
      refundedRevenueCents: m.refundedRevenueCents + (refundedEarlier?.amountCents ?? 0),
    }))
  if (refund !== undefined)
    money = withMoney(money, refund.currency, (m) => ({
      ...m,
      refundedCents: m.refundedCents + refund.amountCents,
      refundedRevenueCents: m.refundedRevenueCents + (refund.ofRevenue ? refund.amountCents : 0),
    }))
  return {
    ...window,
    seq,
    created: window.created + (created ? 1 : 0),
    confirmed: window.confirmed + (confirmed ? 1 : 0),
    cancelled:
      cancelled === undefined
        ? window.cancelled
        : { ...window.cancelled, [cancelled]: (window.cancelled[cancelled] ?? 0) + 1 },
    money,
    refunds: window.refunds + (refund ? 1 : 0),
    skuUnits: confirmed ? withUnits(window.skuUnits, confirmed) : window.skuUnits,
    durations: durationMs === undefined ? window.durations : addDuration(window.durations, durationMs),
  }
}

/** `yyyymmddhhmm` (UTC) of a minute: the window's key suffix, sortable. */
export function minuteKey(minute: number): string {
  return new Date(minute).toISOString().slice(0, 16).replace(/[-:T]/g, '')
}

export function windowKey(generation: string, minute: number): string {
  return `w.${generation}.${minuteKey(minute)}`
}

/** The minute of a window key's suffix; undefined when it is not one. */
export function minuteOfKey(key: string): number | undefined {
  const match = /^w\.[a-z0-9]+\.(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(key)
  if (match === null) return undefined
  const [, y, mo, d, h, mi] = match
  // Date.UTC reads years 0-99 as 1900-1999: the year is set on its own.
  const at = new Date(Date.UTC(2000, Number(mo) - 1, Number(d), Number(h), Number(mi)))
  at.setUTCFullYear(Number(y))
  return at.getTime()
}
