/*
 * Window updates for the Server-Sent Events route: the worker publishes each
 * window it changed, every subscriber gets it. Bounded: at most `maxClients`
 * subscribers; closing the feed ends every subscription (shutdown).
 */
import type { WindowView } from './summary.ts'

export interface Subscription {
  /** Resolves when the feed closes (shutdown) or `cancel` is called. */
  closed: Promise<void>
  cancel(): void
}

export interface WindowFeed {
  publish(view: WindowView): void
  /** Null when `maxClients` are subscribed already, or the feed is closed. */
  subscribe(onView: (view: WindowView) => void): Subscription | null
  size(): number
  /** True once `close` was called (shutdown). */
  isClosed(): boolean
  close(): void
}

export function createWindowFeed({
  maxClients,
  onSize = () => undefined,
}: {
  maxClients: number
  /** Told the number of subscribers whenever it changes (a gauge). */
  onSize?: (size: number) => void
}): WindowFeed {
  const subscribers = new Map<(view: WindowView) => void, () => void>()
  let closed = false
  return {
    publish(view) {
      for (const onView of subscribers.keys()) onView(view)
    },
    subscribe(onView) {
      if (closed || subscribers.size >= maxClients) return null
      let end: () => void = () => undefined
      const ended = new Promise<void>((resolve) => (end = resolve))
      subscribers.set(onView, end)
      onSize(subscribers.size)
      const cancel = () => {
        if (subscribers.delete(onView)) onSize(subscribers.size)
        end()
      }
      return { closed: ended, cancel }
    },
    size: () => subscribers.size,
    isClosed: () => closed,
    close() {
      closed = true
      for (const end of subscribers.values()) end()
      subscribers.clear()
      onSize(0)
    },
  }
}
