// Reads every accepted order back (GET /orders/{id}) until it is confirmed or
// cancelled, or the deadline passes: what is still open then is lost.
import { waitFor, WaitForTimeoutError } from '../harness/wait-for.ts'
import type { OrderView } from '../support/saga-stack.ts'
import { bearer } from '../support/provision.ts'

export const isFinal = (view: OrderView | null | undefined): boolean =>
  view?.status === 'confirmed' || view?.status === 'cancelled'

/** Runs `fn` over `items` with at most `limit` at once. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i] as T)
    }
  })
  await Promise.all(lanes)
  return results
}

export interface FinalStates {
  views: Map<string, OrderView>
  /** Accepted orders not final by the deadline, with their last known status. */
  open: { orderId: string; status: string }[]
  /** When the last order became final, relative to the call (ms), or undefined if some never did. */
  settledAfterMs: number | undefined
  /** Why the wait ended early with orders still open: nothing left that could move them. */
  gaveUp?: string
}

export interface StallCheck {
  /** No order became final for this long... */
  afterMs: number
  /** ...and this says nothing is in flight any more (e.g. every consumer drained): stop waiting. */
  idle: () => Promise<boolean>
}

export async function waitForFinalStates(
  orderUrl: () => string,
  orderIds: readonly string[],
  timeoutMs: number,
  stall?: StallCheck,
): Promise<FinalStates> {
  const started = Date.now()
  let progressAt = started
  let gaveUp: string | undefined
  const views = new Map<string, OrderView>()
  const last = new Map<string, string>()
  const read = async (orderId: string): Promise<void> => {
    try {
      const res = await fetch(`${orderUrl()}/orders/${orderId}`, {
        headers: bearer('client'),
        signal: AbortSignal.timeout(2_000),
      })
      if (res.status === 404) return void last.set(orderId, 'not_found')
      if (res.status !== 200) return
      const view = (await res.json()) as OrderView
      last.set(orderId, view.status)
      if (isFinal(view)) views.set(orderId, view)
    } catch {
      // Not readable now (order worker restarting): asked again next round.
    }
  }
  try {
    await waitFor(
      async () => {
        const before = views.size
        await mapLimit(
          orderIds.filter((id) => !views.has(id)),
          16,
          read,
        )
        if (views.size > before) progressAt = Date.now()
        if (views.size === orderIds.length) return true
        if (stall !== undefined && Date.now() - progressAt > stall.afterMs && (await stall.idle())) {
          gaveUp = `no order became final for ${stall.afterMs} ms and nothing was left in flight`
          return true
        }
        return false
      },
      { timeoutMs, intervalMs: 250, message: `${orderIds.length} orders confirmed or cancelled` },
    )
  } catch (error) {
    if (!(error instanceof WaitForTimeoutError)) throw error
  }
  const open = orderIds
    .filter((id) => !views.has(id))
    .map((orderId) => ({ orderId, status: last.get(orderId) ?? 'unreadable' }))
  const settledAfterMs = open.length === 0 ? Date.now() - started : undefined
  return { views, open, settledAfterMs, ...(gaveUp === undefined ? {} : { gaveUp }) }
}

/** Every order as `GET /orders/{id}` shows it now (the unreadable left out). */
export async function readViews(
  orderUrl: string,
  orderIds: readonly string[],
): Promise<Map<string, OrderView>> {
  const views = new Map<string, OrderView>()
  await mapLimit(orderIds, 16, async (orderId) => {
    const res = await fetch(`${orderUrl}/orders/${orderId}`, {
      headers: bearer('client'),
      signal: AbortSignal.timeout(5_000),
    }).catch(() => null)
    if (res?.status === 200) views.set(orderId, (await res.json()) as OrderView)
  })
  return views
}
