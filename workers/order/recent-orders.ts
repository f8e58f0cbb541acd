/*
 * Orders this intake published moments ago. A GET or a cancel right after the
 * 202 waits up to ORDER_STATUS_WAIT_MS for the projection; in a burst the
 * projection can be further behind than that, and "no order <id>" would tell
 * a client its own order does not exist (a customer's cancel then dropped,
 * the order charged). An order found here is answered as not readable yet
 * (GET: 503 with Retry-After) or cancelled all the same (the workers take a
 * cancellation that comes before its order). Only this instance's orders: an
 * id it did not mint is answered as before.
 */
import type { Priority } from '../../schemas/subjects.ts'

export interface RecentOrder {
  /** The API key that placed it (read and cancelled only by it, or an admin key). */
  owner: string | undefined
  priority: Priority
  correlationId: string
  /** When it was published (epoch ms). */
  at: number
}

export interface RecentOrders {
  add(orderId: string, order: RecentOrder): void
  /** The order, if this intake published it within the last `ttlMs`. */
  get(orderId: string): RecentOrder | undefined
  readonly size: number
}

export function createRecentOrders({
  ttlMs,
  maxEntries = 50_000,
  now = Date.now,
}: {
  ttlMs: number
  /** Bounds memory in a long burst: the oldest go first (at 5,000 orders/s, the last 10 s). */
  maxEntries?: number
  now?: () => number
}): RecentOrders {
  // Insertion order is publish order, so the oldest entries are first.
  const entries = new Map<string, RecentOrder>()
  const dropExpired = (at: number): void => {
    for (const [orderId, order] of entries) {
      if (at - order.at <= ttlMs && entries.size <= maxEntries) return
      entries.delete(orderId)
    }
  }
  return {
    add(orderId, order) {
      entries.delete(orderId)
      entries.set(orderId, order)
      dropExpired(order.at)
    },
    get(orderId) {
      const order = entries.get(orderId)
      return order !== undefined && now() - order.at <= ttlMs ? order : undefined
    },
    get size() {
      return entries.size
    },
  }
}
