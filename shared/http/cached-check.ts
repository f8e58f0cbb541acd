/**
 * A check (readiness) answered from its last result for `cacheMs`, and run
 * once for every caller that asks while it is stale: a burst of `/ready`
 * probes costs NATS one probe, not one each.
 *
 * With `maxWaitMs`, no caller waits longer than that for the probe under
 * way (it gets `timedOut()`), and a probe running longer is left behind for
 * a new one: a probe that never settles (its request cancelled under it, as
 * a Worker's can be) holds nobody up.
 */
export type CachedCheck<T> = (probe: () => Promise<T>) => Promise<T>

export interface CachedCheckOptions<T> {
  now?: () => number
  maxWaitMs?: number
  timedOut?: () => T
}

export function createCachedCheck<T>(
  cacheMs: number,
  { now = Date.now, maxWaitMs, timedOut }: CachedCheckOptions<T> = {},
): CachedCheck<T> {
  let cached: { at: number; value: T } | undefined
  let running: { at: number; result: Promise<T> } | undefined
  return (probe) => {
    const at = now()
    if (cached !== undefined && at - cached.at < cacheMs) return Promise.resolve(cached.value)
    if (running === undefined || (maxWaitMs !== undefined && at - running.at >= maxWaitMs)) {
      const entry: { at: number; result: Promise<T> } = { at, result: Promise.resolve(undefined as T) }
      entry.result = probe()
        .then((value) => {
          // A probe left behind for a newer one keeps its answer to its own callers.
          if (running === entry) cached = { at: now(), value }
          return value
        })
        .finally(() => {
          if (running === entry) running = undefined
        })
      running = entry
    }
    const { result } = running
    if (maxWaitMs === undefined || timedOut === undefined) return result
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<T>((resolve) => {
      timer = setTimeout(() => resolve(timedOut()), maxWaitMs)
    })
    return Promise.race([result, late]).finally(() => clearTimeout(timer))
  }
}
