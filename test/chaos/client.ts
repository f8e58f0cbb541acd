// A client as a real one behaves: POST /orders with an Idempotency-Key, and on
// a 503 or a network error the same request again with the same key, backing off;
// on a 429 again after the Retry-After it was given.
import type { OrderKind, OrderRequest } from './order-mix.ts'
import { bearer } from '../support/provision.ts'

export type AttemptOutcome = 'accepted' | 'unavailable' | 'rate_limited' | 'network_error' | 'other_status'

export interface Attempt {
  startedAt: number
  endedAt: number
  outcome: AttemptOutcome
  status?: number
  /** Seconds from `Retry-After`, on a 429. */
  retryAfterS?: number
}

export interface PlacedOrder {
  key: string
  kind: OrderKind
  request: OrderRequest
  attempts: Attempt[]
  /** Set once a 202 came back: the order the system took. */
  orderId?: string
  acceptedAt?: number
}

export interface RetryOptions {
  /** Stop retrying this long after the first attempt (the order then has no 202 yet). */
  giveUpAfterMs: number
  /** Deadline of one HTTP request. */
  requestTimeoutMs: number
}

/** Exponential backoff with jitter, capped: 100, 200, 400 ... 2000 ms. */
function backoffMs(attempt: number): number {
  const base = Math.min(2_000, 100 * 2 ** Math.min(attempt, 5))
  return base / 2 + Math.random() * (base / 2)
}

async function postOnce(
  orderUrl: string,
  order: PlacedOrder,
  timeoutMs: number,
): Promise<Attempt & { orderId?: string }> {
  const startedAt = Date.now()
  try {
    const res = await fetch(`${orderUrl}/orders`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': order.key, ...bearer('client') },
      body: JSON.stringify(order.request),
      signal: AbortSignal.timeout(timeoutMs),
    })
    const text = await res.text()
    const endedAt = Date.now()
    if (res.status === 202) {
      const { orderId } = JSON.parse(text) as { orderId: string }
      return { startedAt, endedAt, outcome: 'accepted', status: 202, orderId }
    }
    return {
      startedAt,
      endedAt,
      outcome: res.status === 503 ? 'unavailable' : res.status === 429 ? 'rate_limited' : 'other_status',
      status: res.status,
      ...(res.status === 429 ? { retryAfterS: Number(res.headers.get('Retry-After') ?? '1') || 1 } : {}),
    }
  } catch {
    return { startedAt, endedAt: Date.now(), outcome: 'network_error' }
  }
}

/**
 * Sends the order until it is accepted (202), the answer is final (another
 * status than 503), or `giveUpAfterMs` has passed. Mutates and returns `order`.
 */
export async function placeWithRetry(
  orderUrl: string,
  order: PlacedOrder,
  { giveUpAfterMs, requestTimeoutMs }: RetryOptions,
): Promise<PlacedOrder> {
  const giveUpAt = Date.now() + giveUpAfterMs
  for (let n = 0; ; n++) {
    const { orderId, ...attempt } = await postOnce(orderUrl, order, requestTimeoutMs)
    order.attempts.push(attempt)
    if (orderId !== undefined) {
      order.orderId = orderId
      order.acceptedAt = attempt.endedAt
      return order
    }
    if (attempt.outcome === 'other_status') return order
    const pause = attempt.outcome === 'rate_limited' ? (attempt.retryAfterS ?? 1) * 1_000 : backoffMs(n)
    if (Date.now() + pause > giveUpAt) return order
    // A client's backoff between retries, not synchronisation.
    await new Promise((resolve) => setTimeout(resolve, pause))
  }
}
