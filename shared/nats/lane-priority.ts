/**
 * Express first inside one process. The lanes have their own subjects and
 * consumers, so no standard backlog queues in front of an express message;
 * but a worker running 16 standard messages shares its event loop and its
 * NATS connection with them, and an express message interleaved with them
 * takes as long as they do (docs/priority.md). While express messages are in
 * flight here, standard messages wait at two points before doing work: before
 * their handler starts, and before they publish what it produced. Each wait
 * is bounded by `maxHoldMs`, so a steady express flow slows the standard lane
 * but never stops it.
 */
export interface LanePriority {
  /** An express message starts; call the returned function when it is done. */
  expressStarted(): () => void
  /** Express messages in flight in this process. */
  expressActive(): number
  /**
   * Resolves once no express message is in flight, or after `maxHoldMs`;
   * `undefined` (nothing to wait for) when none is in flight.
   */
  yieldToExpress(): Promise<void> | undefined
}

export function createLanePriority({ maxHoldMs }: { maxHoldMs: number }): LanePriority {
  let active = 0
  let idle: { promise: Promise<void>; resolve: () => void } | undefined

  function whenIdle(): Promise<void> {
    if (idle === undefined) {
      let resolve: () => void = () => undefined
      const promise = new Promise<void>((r) => (resolve = r))
      idle = { promise, resolve }
    }
    return idle.promise
  }

  return {
    expressStarted() {
      active++
      let ended = false
      return () => {
        if (ended) return
        ended = true
        active--
        if (active === 0 && idle !== undefined) {
          idle.resolve()
          idle = undefined
        }
      }
    },
    expressActive: () => active,
    yieldToExpress() {
      if (active === 0 || maxHoldMs <= 0) return undefined
      let timer: ReturnType<typeof setTimeout> | undefined
      const held = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, maxHoldMs)
      })
      return Promise.race([whenIdle(), held]).finally(() => clearTimeout(timer))
    },
  }
}
