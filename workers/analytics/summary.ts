/*
 * What the HTTP routes show: a window or a range of windows as totals, with
 * the derived figures (conversion rate, net revenue, top skus, percentiles).
 * Pure.
 */
import { CancellationReasonSchema, type CancellationReason } from '../../schemas/events.ts'
import { durationCount, durationPercentile, mergeDurations } from './durations.ts'
import type { WindowRecord } from './records.ts'
import { OTHER_SKU, emptyWindow } from './windows.ts'

export const CANCELLATION_REASONS: readonly CancellationReason[] = CancellationReasonSchema.options

export interface Totals {
  created: number
  confirmed: number
  /** Every reason, 0 included. */
  cancelled: Record<CancellationReason, number>
  cancelledTotal: number
  /** confirmed / created over the same minutes; null when nothing was created. */
  conversionRate: number | null
  /** By currency: confirmed amounts, the refunds of confirmed orders, and the difference. */
  revenue: Record<string, { grossCents: number; refundedCents: number; netCents: number }>
  /** Every refund (reconciliation's too): how many, and cents by currency. */
  refunds: { count: number; cents: Record<string, number> }
  /** Units of confirmed orders, most first (ties by sku). */
  topSkus: { sku: string; units: number }[]
  sagaDurationMs: { count: number; p50: number | null; p99: number | null }
}

export interface WindowView extends Totals {
  /** Start of the minute (ISO 8601). */
  minute: string
}

/** The sum of several windows (its `minute` and `seq` mean nothing). */
export function mergeWindows(windows: readonly WindowRecord[]): WindowRecord {
  const sum = emptyWindow(0)
  const cancelled: Partial<Record<CancellationReason, number>> = {}
  const money: WindowRecord['money'] = {}
  const skuUnits: Record<string, number> = {}
  let durations = sum.durations
  for (const w of windows) {
    sum.created += w.created
    sum.confirmed += w.confirmed
    sum.refunds += w.refunds
    for (const [reason, n] of Object.entries(w.cancelled) as [CancellationReason, number][])
      cancelled[reason] = (cancelled[reason] ?? 0) + n
    for (const [currency, m] of Object.entries(w.money)) {
      const acc = money[currency] ?? { revenueCents: 0, refundedCents: 0, refundedRevenueCents: 0 }
      money[currency] = {
        revenueCents: acc.revenueCents + m.revenueCents,
        refundedCents: acc.refundedCents + m.refundedCents,
        refundedRevenueCents: acc.refundedRevenueCents + m.refundedRevenueCents,
      }
    }
    for (const [sku, units] of Object.entries(w.skuUnits)) skuUnits[sku] = (skuUnits[sku] ?? 0) + units
    durations = mergeDurations(durations, w.durations)
  }
  return { ...sum, cancelled, money, skuUnits, durations }
}

export function toTotals(w: WindowRecord, top: number): Totals {
  const cancelled = Object.fromEntries(CANCELLATION_REASONS.map((r) => [r, w.cancelled[r] ?? 0])) as Record<
    CancellationReason,
    number
  >
  const revenue: Totals['revenue'] = {}
  const refundCents: Record<string, number> = {}
  for (const [currency, m] of Object.entries(w.money)) {
    if (m.revenueCents > 0 || m.refundedRevenueCents > 0)
      revenue[currency] = {
        grossCents: m.revenueCents,
        refundedCents: m.refundedRevenueCents,
        netCents: m.revenueCents - m.refundedRevenueCents,
      }
    if (m.refundedCents > 0) refundCents[currency] = m.refundedCents
  }
  const topSkus = Object.entries(w.skuUnits)
    .filter(([sku]) => sku !== OTHER_SKU)
    .map(([sku, units]) => ({ sku, units }))
    .sort((a, b) => b.units - a.units || (a.sku < b.sku ? -1 : 1))
    .slice(0, top)
  return {
    created: w.created,
    confirmed: w.confirmed,
    cancelled,
    cancelledTotal: Object.values(cancelled).reduce((a, b) => a + b, 0),
    conversionRate: w.created === 0 ? null : w.confirmed / w.created,
    revenue,
    refunds: { count: w.refunds, cents: refundCents },
    topSkus,
    sagaDurationMs: {
      count: durationCount(w.durations),
      p50: durationPercentile(w.durations, 0.5),
      p99: durationPercentile(w.durations, 0.99),
    },
  }
}

export function toWindowView(w: WindowRecord, top: number): WindowView {
  return { minute: new Date(w.minute).toISOString(), ...toTotals(w, top) }
}
