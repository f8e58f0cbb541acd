/*
 * Saga durations as a log-scale histogram: 8 buckets per doubling, so a
 * window holds at most ~200 counters (1 ms to 1 year) and histograms of any
 * windows add up exactly. A percentile is the upper bound of the bucket that
 * holds its rank: at most 9% above the true value, never below it.
 */

/** Buckets per doubling of the duration. */
export const BUCKETS_PER_DOUBLING = 8

/** Bucket index -> count (string keys: the record is JSON). */
export type DurationHistogram = Readonly<Record<string, number>>

/** The bucket of a duration: index i holds (2^((i-1)/8), 2^(i/8)] ms; 0 holds <= 1 ms. */
export function durationBucket(ms: number): number {
  if (!(ms > 1)) return 0
  return Math.ceil(Math.log2(ms) * BUCKETS_PER_DOUBLING - 1e-9)
}

/**
 * The largest whole number of milliseconds bucket `index` holds (durations
 * are whole milliseconds: {@link addDuration}). Rounding the bound up instead
 * would overshoot short durations (18 ms read as 20, not 19).
 */
export function bucketUpperBoundMs(index: number): number {
  return Math.max(1, Math.floor(2 ** (index / BUCKETS_PER_DOUBLING) + 1e-9))
}

/** Counts a duration, as whole milliseconds (a fraction rounds up: a percentile is never below it). */
export function addDuration(histogram: DurationHistogram, ms: number): DurationHistogram {
  const key = String(durationBucket(Math.ceil(ms)))
  return { ...histogram, [key]: (histogram[key] ?? 0) + 1 }
}

export function mergeDurations(a: DurationHistogram, b: DurationHistogram): DurationHistogram {
  const out: Record<string, number> = { ...a }
  for (const [key, count] of Object.entries(b)) out[key] = (out[key] ?? 0) + count
  return out
}

export function durationCount(histogram: DurationHistogram): number {
  return Object.values(histogram).reduce((sum, n) => sum + n, 0)
}

/**
 * The q-quantile (0 < q <= 1) in ms: the upper bound of the bucket holding
 * the ceil(q * count)-th smallest duration; null for an empty histogram.
 */
export function durationPercentile(histogram: DurationHistogram, q: number): number | null {
  const count = durationCount(histogram)
  if (count === 0) return null
  const rank = Math.max(1, Math.ceil(q * count))
  const buckets = Object.entries(histogram)
    .map(([key, n]) => [Number(key), n] as const)
    .sort(([a], [b]) => a - b)
  let seen = 0
  for (const [index, n] of buckets) {
    seen += n
    if (seen >= rank) return bucketUpperBoundMs(index)
  }
  return bucketUpperBoundMs(buckets[buckets.length - 1]?.[0] ?? 0)
}
