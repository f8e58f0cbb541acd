/**
 * Sends started in one turn of the event loop leave in one socket write.
 *
 * nats.js flushes its outbound buffer in a microtask after the first frame
 * is queued, so a publish made from each HTTP request's own callback is a
 * socket write of its own: under load that write is the intake's largest
 * single cost (docs/performance.md). Deferring each send to the end of the
 * turn (`setImmediate`) and starting every deferred send one after another
 * puts their frames in the same buffer: one write for all of them. The delay
 * is the rest of the turn, microseconds. A runtime without `setImmediate`
 * sends at once, as before (Bun, Node and Deno have it).
 */
const queue: (() => void)[] = []

function flush(): void {
  for (const start of queue.splice(0)) start()
}

export function sendAtEndOfTurn<T>(send: () => Promise<T>): Promise<T> {
  if (typeof setImmediate !== 'function') return send()
  return new Promise<T>((resolve, reject) => {
    if (queue.length === 0) setImmediate(flush)
    queue.push(() => {
      // A send that throws before its first await rejects like one that fails after.
      Promise.resolve().then(send).then(resolve, reject)
    })
  })
}
