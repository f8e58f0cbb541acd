/**
 * A check (readiness) answered from its last result for `cacheMs`, and run
 * once for every caller that asks while it is stale: a burst of `/ready`
 * probes costs NATS one probe, not one each.
 */
export type CachedCheck<T> = (probe: () => Promise<T>) => Promise<T>

export function createCachedCheck<T>(cacheMs: number, now: () => number = Date.now): CachedCheck<T> {
  let cached: { at: number; value: T } | undefined
  let running: Promise<T> | undefined
  return (probe) => {
    if (cached !== undefined && now() - cached.at < cacheMs) return Promise.resolve(cached.value)
    running ??= probe()
      .then((value) => {
        cached = { at: now(), value }
        return value
      })
      .finally(() => {
        running = undefined
      })
    return running
  }
}
