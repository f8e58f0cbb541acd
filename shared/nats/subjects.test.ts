import { describe, expect, it } from 'vitest'
import { filtersOverlap } from './subjects.ts'

describe('filtersOverlap', () => {
  it.each([
    ['payments.>', 'payments.failed', true],
    ['payments.>', 'payments', false],
    ['payments.*', 'payments.failed', true],
    ['payments.*', 'payments.failed.late', false],
    ['orders.created', 'payments.failed', false],
    ['orders.created', 'orders.created', true],
    ['orders.*', '*.created', true],
    ['orders.*.x', 'orders.>', true],
    ['>', 'anything.at.all', true],
    ['payments.>', 'payments.*', true],
    ['*', '>', true],
    ['*', 'a.b', false],
    ['a.b', 'a', false],
    ['a.b', 'a.b.c', false],
  ])('%s and %s: %s', (a, b, overlap) => {
    expect(filtersOverlap(a, b)).toBe(overlap)
    expect(filtersOverlap(b, a)).toBe(overlap)
  })
})
