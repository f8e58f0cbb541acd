/**
 * Token buckets by key (an API key id, or a client address for failed
 * attempts), in memory. Each bucket holds up to `burst` tokens and refills at
 * `perSecond`. The map is bounded: a bucket idle long enough to be full again
 * is the same as no bucket and is dropped, and past `maxBuckets` the least
 * recently used bucket goes, so no stream of invented addresses grows memory.
 *
 * Every process (or edge isolate) enforces its own buckets: with N intake
 * instances behind a load balancer, a key can reach N times the rate. Set the
 * per-instance rate to total / N, or enforce the limit at the load balancer.
 */
import { fractionFromEnv, intFromEnv } from '../config/load-config.ts'

export interface RateLimitOptions {
  perSecond: number
  burst: number
  /** Most buckets kept at once. */
  maxBuckets?: number
  /** Milliseconds; injectable for tests. */
  now?: () => number
}

export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number }

export interface RateLimiter {
  /** Takes one token from `key`'s bucket, or says when one will be there. */
  take(key: string): TakeResult
  /** Like `take`, without taking: is a token there now? */
  check(key: string): TakeResult
  /** Buckets held now (for tests and metrics). */
  size(): number
}

interface Bucket {
  tokens: number
  /** When `tokens` was computed (ms). */
  at: number
}

export const DEFAULT_MAX_BUCKETS = 10_000

export function createRateLimiter({
  perSecond,
  burst,
  maxBuckets = DEFAULT_MAX_BUCKETS,
  now = () => Date.now(),
}: RateLimitOptions): RateLimiter {
  if (!(perSecond > 0) || !(burst >= 1)) throw new RangeError('rate limit: perSecond > 0 and burst >= 1')
  /** Insertion order is recency order: a bucket used is moved to the end. */
  const buckets = new Map<string, Bucket>()
  const refillMs = (burst / perSecond) * 1000
  // Dropping buckets that are full again walks the map from its oldest end:
  // at most once per this interval, not on every request (a map whose busy
  // key is moved to the end on each take is slow to walk).
  const sweepEveryMs = Math.min(refillMs, 1_000)
  let sweptAt = -Infinity

  function current(key: string, t: number): Bucket {
    const bucket = buckets.get(key)
    if (bucket === undefined) return { tokens: burst, at: t }
    const tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * perSecond)
    return { tokens, at: t }
  }

  function store(key: string, bucket: Bucket): void {
    buckets.delete(key)
    // A full bucket is what a missing one means: keep only those that are not.
    if (bucket.tokens < burst) buckets.set(key, bucket)
    evict(bucket.at)
  }

  function evict(t: number): void {
    const sweep = t - sweptAt >= sweepEveryMs
    if (!sweep && buckets.size <= maxBuckets) return
    if (sweep) sweptAt = t
    // Oldest first: drop whatever is over the bound, and (on a sweep) those full again.
    for (const [key, bucket] of buckets) {
      if (buckets.size <= maxBuckets && !(sweep && t - bucket.at >= refillMs)) break
      buckets.delete(key)
    }
  }

  function wait(tokens: number): TakeResult {
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / perSecond)) }
  }

  return {
    take(key) {
      const t = now()
      const bucket = current(key, t)
      if (bucket.tokens < 1) {
        store(key, bucket)
        return wait(bucket.tokens)
      }
      store(key, { tokens: bucket.tokens - 1, at: t })
      return { ok: true }
    },
    check(key) {
      const bucket = current(key, now())
      return bucket.tokens < 1 ? wait(bucket.tokens) : { ok: true }
    },
    size: () => buckets.size,
  }
}

/** The intake's rate-limit settings; spread into a config schema. */
export const rateLimitSettings = {
  /** Tokens per second each key id (and each client address's failed attempts) gets back. */
  RATE_LIMIT_PER_SECOND: fractionFromEnv(100, 0.001, 1_000_000),
  /** Most tokens a bucket holds: requests a key may send at once after a quiet spell. */
  RATE_LIMIT_BURST: intFromEnv(200, 1, 1_000_000),
} as const
