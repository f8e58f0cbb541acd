/*
 * Recent orders, live: one watch of the order-status bucket per console
 * process (not per browser), new writes only. Changes are coalesced by order
 * and handed to every subscriber (the Server-Sent Events streams) at most
 * every `intervalMs`, so a busy saga costs each browser one small batch per
 * interval, not one message per event.
 */
import { KvWatchInclude, type KV } from '@nats-io/kv'
import * as v from 'valibot'
import type { Logger } from '../../shared/observability/log.ts'
import { OrderIdSchema } from '../../schemas/primitives.ts'
import { creationMs } from './index-subjects.ts'

export interface OrderChange {
  orderId: string
  status: string
  reason?: string
  customerId?: string
  amountCents?: number
  /**
   * Creation time, ms since the epoch, as in a row of `GET /console/api/orders`
   * (the id's own time, else the record's `createdAt`).
   */
  createdMs?: number
  createdAt?: string
  updatedAt?: string
  priority?: string
}

export type ChangeListener = (changes: OrderChange[]) => void

export interface LiveOrders {
  /**
   * Hands each batch to `listener` until the returned function is called;
   * `onStop` is called once when the console stops (at once if it has), so a
   * stream ends and the HTTP server can close.
   */
  subscribe(listener: ChangeListener, onStop?: () => void): () => void
  subscribers(): number
  stop(): Promise<void>
}

/**
 * The summary of a record the live list shows (the record has more); null for
 * a record that is not the order its key names, or whose id is not a UUID.
 */
export function toChange(record: Record<string, unknown>, key: string): OrderChange | null {
  const { orderId, status, reason, customerId, amountCents, createdAt, updatedAt, priority } = record
  if (orderId !== key || !v.is(OrderIdSchema, orderId) || typeof status !== 'string') return null
  const createdMs = creationMs(orderId, createdAt)
  return {
    orderId,
    status,
    ...(typeof reason === 'string' ? { reason } : {}),
    ...(typeof customerId === 'string' ? { customerId } : {}),
    ...(typeof amountCents === 'number' ? { amountCents } : {}),
    ...(createdMs === undefined ? {} : { createdMs }),
    ...(typeof createdAt === 'string' ? { createdAt } : {}),
    ...(typeof updatedAt === 'string' ? { updatedAt } : {}),
    ...(typeof priority === 'string' ? { priority } : {}),
  }
}

/** At most this many orders per batch; a tick with more sends several. */
export const MAX_BATCH = 200

export async function startLiveOrders(
  statusKv: KV,
  { logger, intervalMs = 250 }: { logger: Logger; intervalMs?: number },
): Promise<LiveOrders> {
  /** Each subscriber's listener, and what it asked to be called when the console stops. */
  const listeners = new Map<ChangeListener, (() => void) | undefined>()
  let stopped = false
  const pending = new Map<string, OrderChange>()
  const watch = await statusKv.watch({ include: KvWatchInclude.UpdatesOnly, ignoreDeletes: true })
  const done = (async () => {
    for await (const entry of watch) {
      if (listeners.size === 0) continue
      try {
        const change = toChange(entry.json<Record<string, unknown>>(), entry.key)
        if (change === null) continue
        pending.delete(change.orderId)
        pending.set(change.orderId, change)
      } catch {
        // Not a record this console can read; the order page still shows it.
      }
    }
  })().catch((error: unknown) => logger.warn({ err: error }, 'order-status watch ended'))

  const tick = setInterval(() => {
    if (pending.size === 0) return
    // Every change is sent: the page applies them and never reads the list again.
    const changes = [...pending.values()]
    pending.clear()
    for (let start = 0; start < changes.length; start += MAX_BATCH) {
      const batch = changes.slice(start, start + MAX_BATCH)
      for (const listener of listeners.keys()) listener(batch)
    }
  }, intervalMs)

  return {
    subscribe(listener, onStop) {
      if (stopped) {
        onStop?.()
        return () => undefined
      }
      listeners.set(listener, onStop)
      return () => listeners.delete(listener)
    },
    subscribers: () => listeners.size,
    async stop() {
      stopped = true
      clearInterval(tick)
      watch.stop()
      const ends = [...listeners.values()]
      listeners.clear()
      for (const end of ends) end?.()
      await done
    },
  }
}
