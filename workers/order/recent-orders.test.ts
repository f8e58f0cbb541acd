import { describe, expect, it } from 'vitest'
import { createRecentOrders, type RecentOrder } from './recent-orders.ts'

const order = (at: number): RecentOrder => ({ owner: 'alice', priority: 'standard', correlationId: 'c', at })

describe('recent orders', () => {
  it('knows an order for its time to live, then forgets it', () => {
    let clock = 1_000
    const recent = createRecentOrders({ ttlMs: 60_000, now: () => clock })
    recent.add('o1', order(clock))
    expect(recent.get('o1')).toStrictEqual(order(1_000))
    expect(recent.get('o2')).toBeUndefined()
    clock += 60_000
    expect(recent.get('o1')).toStrictEqual(order(1_000))
    clock += 1
    expect(recent.get('o1')).toBeUndefined()
    // Dropped from memory by the next add, not only hidden.
    recent.add('o2', order(clock))
    expect(recent.size).toBe(1)
  })

  it('keeps at most maxEntries, the newest', () => {
    const recent = createRecentOrders({ ttlMs: 60_000, maxEntries: 3, now: () => 0 })
    for (const id of ['a', 'b', 'c', 'd', 'e']) recent.add(id, order(0))
    expect(recent.size).toBe(3)
    expect(['a', 'b', 'c', 'd', 'e'].map((id) => recent.get(id) !== undefined)).toStrictEqual([
      false,
      false,
      true,
      true,
      true,
    ])
  })
})
