// Fixed-rate load: `ratePerSec` new orders a second for `durationMs`, each sent
// by its own retrying client, whatever the system is going through.
import { placeWithRetry, type PlacedOrder, type RetryOptions } from './client.ts'
import { createOrderMix } from './order-mix.ts'

export interface LoadOptions extends RetryOptions {
  orderUrl: string
  ratePerSec: number
  durationMs: number
  seed: number
  /** Prefix of every Idempotency-Key (unique per run). */
  keyPrefix: string
}

export interface RunningLoad {
  startedAt: number
  /** Every order sent, once every client has its answer or gave up. */
  done: Promise<PlacedOrder[]>
}

const TICK_MS = 20

export function startLoad({
  orderUrl,
  ratePerSec,
  durationMs,
  seed,
  keyPrefix,
  ...retry
}: LoadOptions): RunningLoad {
  const next = createOrderMix(seed)
  const startedAt = Date.now()
  const orders: PlacedOrder[] = []
  const clients: Promise<PlacedOrder>[] = []
  const total = Math.round((ratePerSec * durationMs) / 1000)
  const done = new Promise<PlacedOrder[]>((resolve) => {
    // The ticks of a fixed-rate generator: on each, send however many orders are due by now.
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((Date.now() - startedAt) * ratePerSec) / 1000))
      while (orders.length < due) {
        const n = orders.length
        const { kind, request } = next(n)
        const order: PlacedOrder = { key: `${keyPrefix}-${n}`, kind, request, attempts: [] }
        orders.push(order)
        clients.push(placeWithRetry(orderUrl, order, retry))
      }
      if (orders.length >= total) {
        clearInterval(timer)
        resolve(Promise.all(clients))
      }
    }, TICK_MS)
  })
  return { startedAt, done }
}
