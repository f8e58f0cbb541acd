// Medians, spreads and percentiles: every figure in the report is the median
// of several runs with its min-max spread.

/** One figure over N runs. */
export interface Figure {
  median: number
  min: number
  max: number
  n: number
  runs: number[]
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? Number.NaN
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  const mid = Math.floor(sorted.length / 2)
  if (sorted.length === 0) return Number.NaN
  if (sorted.length % 2 === 1) return sorted[mid] ?? Number.NaN
  return ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

export function toFigure(runs: readonly number[]): Figure {
  const finite = runs.filter((r) => Number.isFinite(r))
  return {
    median: median(finite),
    min: finite.length > 0 ? Math.min(...finite) : Number.NaN,
    max: finite.length > 0 ? Math.max(...finite) : Number.NaN,
    n: finite.length,
    runs: [...runs],
  }
}

/** `a / b` of two medians, with the pessimistic and optimistic ends of the spreads. */
export interface Ratio {
  value: number
  low: number
  high: number
}

export function ratioOf(a: Figure, b: Figure): Ratio {
  return { value: a.median / b.median, low: a.min / b.max, high: a.max / b.min }
}

/** Latency summary of one run, in milliseconds. */
export interface LatencySummary {
  p50: number
  p99: number
  max: number
  count: number
}

export function summarizeLatencies(values: number[]): LatencySummary {
  values.sort((x, y) => x - y)
  return {
    p50: percentile(values, 50),
    p99: percentile(values, 99),
    max: values.at(-1) ?? Number.NaN,
    count: values.length,
  }
}
