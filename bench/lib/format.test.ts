import { describe, expect, it } from 'vitest'
import { ratioVerdict, verdict } from './format.ts'

describe('verdict', () => {
  it('says met on the target and how far off otherwise, in the target direction', () => {
    expect(verdict(0.8, 0.8, true)).toBe('met')
    expect(verdict(0.4, 0.8, true)).toBe('**missed** by 50%')
    expect(verdict(1.2, 1.2, false)).toBe('met')
    expect(verdict(2.4, 1.2, false)).toBe('**missed** by 100%')
    expect(verdict(Number.NaN, 1, true)).toBe('not measured')
  })

  it('never says missed by 0% beside a value that displays as the target', () => {
    expect(verdict(1.0704, 1.07, false)).toBe('**missed** by 0.04%')
    expect(verdict(0.8996, 0.9, true)).toBe('**missed** by 0.04%')
    expect(verdict(1.0700001, 1.07, false)).toBe('**missed** by < 0.01%')
    expect(verdict(0.895, 0.9, true)).toBe('**missed** by 0.6%')
  })
})

describe('ratioVerdict', () => {
  it('says when the spread crosses the target', () => {
    expect(ratioVerdict({ value: 0.98, low: 0.85, high: 1.14 }, 0.9, true)).toBe(
      'met at the median; the spread crosses the target',
    )
    expect(ratioVerdict({ value: 0.98, low: 0.92, high: 1.14 }, 0.9, true)).toBe('met')
    expect(ratioVerdict({ value: 3.79, low: 1.9, high: 5.25 }, 2, false)).toBe(
      '**missed** by 90% at the median; the spread crosses the target',
    )
    expect(ratioVerdict({ value: 3.79, low: 2.82, high: 5.25 }, 2, false)).toBe('**missed** by 90%')
  })
})
