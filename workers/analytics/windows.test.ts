import { describe, expect, it } from 'vitest'
import { bucketUpperBoundMs, durationBucket, durationPercentile, mergeDurations } from './durations.ts'
import {
  MAX_SKUS_PER_WINDOW,
  OTHER_SKU,
  addContribution,
  emptyWindow,
  minuteKey,
  minuteOfKey,
  windowKey,
} from './windows.ts'

const T0 = Date.UTC(2026, 0, 1, 10, 5)

describe('windows', () => {
  it('keys a window by generation and UTC minute, and reads the minute back', () => {
    expect(windowKey('g1', T0)).toBe('w.g1.202601011005')
    expect(minuteKey(T0)).toBe('202601011005')
    expect(minuteOfKey('w.g1.202601011005')).toBe(T0)
    // Every year a window key can hold, the first hundred included (events' times are 4-digit ISO years).
    for (const at of [
      '0000-01-01T00:00:00Z',
      '0050-06-01T12:34:00Z',
      '1999-12-31T23:59:00Z',
      '9999-12-31T23:59:00Z',
    ])
      expect(minuteOfKey(windowKey('g1', Date.parse(at)))).toBe(Date.parse(at))
    expect(minuteOfKey('active')).toBeUndefined()
  })

  it('refuses a sequence it already holds', () => {
    const w = addContribution(emptyWindow(T0), { minute: T0, created: true }, 7)
    expect(w).toMatchObject({ created: 1, seq: 7 })
    expect(w && addContribution(w, { minute: T0, created: true }, 7)).toBeNull()
    expect(w && addContribution(w, { minute: T0, created: true }, 3)).toBeNull()
  })

  it('counts skus beyond the cap under one entry', () => {
    const full = {
      ...emptyWindow(T0),
      skuUnits: Object.fromEntries(Array.from({ length: MAX_SKUS_PER_WINDOW }, (_, i) => [`S${i}`, 1])),
    }
    const items = [
      { sku: 'S1', quantity: 2 },
      { sku: 'NEW', quantity: 3 },
    ]
    const w = addContribution(full, { minute: T0, confirmed: { amountCents: 7, currency: 'USD', items } }, 1)
    expect(w?.skuUnits['S1']).toBe(3)
    expect(w?.skuUnits['NEW']).toBeUndefined()
    expect(w?.skuUnits[OTHER_SKU]).toBe(3)
    expect(w?.money).toStrictEqual({ USD: { revenueCents: 7, refundedCents: 0, refundedRevenueCents: 0 } })
  })
})

describe('durations', () => {
  it.each([1, 2, 50, 999, 1_000, 12_345, 3_600_000])('keeps %i ms within 9% above', (ms) => {
    const upper = bucketUpperBoundMs(durationBucket(ms))
    expect(upper).toBeGreaterThanOrEqual(ms)
    expect(upper).toBeLessThanOrEqual(ms * 1.0906)
  })

  it('reads every whole millisecond up to 10 s as at most 9% above, never below', () => {
    const over: number[] = []
    for (let ms = 1; ms <= 10_000; ms++) {
      const upper = bucketUpperBoundMs(durationBucket(ms))
      if (upper < ms || upper > ms * 1.0906) over.push(ms)
    }
    expect(over).toStrictEqual([])
    expect([3, 5, 18, 27, 83].map((ms) => bucketUpperBoundMs(durationBucket(ms)))).toStrictEqual([
      3, 5, 19, 29, 90,
    ])
  })

  it('reads percentiles from merged histograms', () => {
    const ms = Array.from({ length: 100 }, (_, i) => (i + 1) * 10)
    const half = (from: number, to: number) => {
      const h: Record<string, number> = {}
      for (const m of ms.slice(from, to))
        h[String(durationBucket(m))] = (h[String(durationBucket(m))] ?? 0) + 1
      return h
    }
    const all = mergeDurations(half(0, 50), half(50, 100))
    const p50 = durationPercentile(all, 0.5) ?? 0
    const p99 = durationPercentile(all, 0.99) ?? 0
    expect(p50).toBeGreaterThanOrEqual(500)
    expect(p50).toBeLessThanOrEqual(546)
    expect(p99).toBeGreaterThanOrEqual(990)
    expect(p99).toBeLessThanOrEqual(1080)
    expect(durationPercentile({}, 0.5)).toBeNull()
  })
})
