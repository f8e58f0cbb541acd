import { describe, expect, it } from 'vitest'
import { availableOf, releaseHold, returnOrRelease, sellHold, setStock, takeHold } from './domain.ts'
import type { StockRecord } from './records.ts'

const stock = (onHand: number, holds: Record<string, number> = {}): StockRecord => ({
  sku: 'A',
  onHand,
  priceCents: 100,
  sold: 0,
  holds: Object.fromEntries(Object.entries(holds).map(([k, q]) => [k, { quantity: q, unitPriceCents: 100 }])),
})

describe('stock rules', () => {
  it.each([
    ['enough stock', stock(5), 3, 'held'],
    ['exactly enough', stock(3, { other: 2 }), 1, 'held'],
    ['short', stock(3, { other: 2 }), 2, 'short'],
    ['unknown sku', null, 1, 'short'],
    ['already held by this order', stock(1, { o1: 1 }), 1, 'already_held'],
  ] as const)('takeHold with %s -> %s', (_name, record, quantity, kind) => {
    expect(takeHold(record, 'o1', quantity).kind).toBe(kind)
  })

  it('never lets available go negative through holds', () => {
    let record = stock(2)
    for (const order of ['a', 'b', 'c']) {
      const decision = takeHold(record, order, 1)
      if (decision.kind === 'held') record = decision.record
    }
    expect(availableOf(record)).toBe(0)
    expect(Object.keys(record.holds)).toStrictEqual(['a', 'b'])
  })

  it('releases and sells a hold once', () => {
    const held = stock(5, { o1: 2 })
    expect(releaseHold(held, 'o1')).toStrictEqual(stock(5))
    expect(releaseHold(stock(5), 'o1')).toBeNull()
    expect(sellHold(held, 'o1')).toStrictEqual({ ...stock(3), sold: 2 })
    expect(sellHold(stock(3), 'o1')).toBeNull()
  })

  it("returns a refunded order's units once, whether they were sold or only held", () => {
    // Sold: the units come back on hand, once.
    const sold = { ...stock(3), sold: 2 }
    const returned = returnOrRelease(sold, 'o1', 2)
    expect(returned).toMatchObject({ onHand: 5, sold: 0, returned: { o1: 2 } })
    expect(returnOrRelease(returned, 'o1', 2)).toBeNull()
    // Held (the sale never reached this sku): the hold is dropped, and a second
    // pass (a redelivery, a concurrent delivery) puts back nothing never sold.
    const released = returnOrRelease(stock(5, { o1: 2, o2: 1 }), 'o1', 2)
    expect(released).toStrictEqual({ ...stock(5, { o2: 1 }), returned: { o1: 0 } })
    expect(returnOrRelease(released, 'o1', 2)).toBeNull()
    // The returns kept stay bounded.
    const many = { ...stock(5, { o9: 1 }), returned: { o1: 1, o2: 1, o3: 1 } }
    expect(returnOrRelease(many, 'o9', 1, 3)?.returned).toStrictEqual({ o2: 1, o3: 1, o9: 0 })
  })

  it('sets stock but never below the held units', () => {
    expect(setStock(null, 'A', { onHand: 4, priceCents: 100 })).toStrictEqual({
      kind: 'ok',
      created: true,
      record: stock(4),
    })
    expect(setStock(stock(5, { o1: 3 }), 'A', { onHand: 2, priceCents: 100 })).toStrictEqual({
      kind: 'below_reserved',
      reserved: 3,
    })
  })
})
