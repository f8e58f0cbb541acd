// Number formatting for the markdown report.
import type { Figure, Ratio } from './stats.ts'

export function num(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return 'n/a'
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** `median (min-max)`, or the single value when N = 1. */
export function fig(f: Figure, digits = 0): string {
  if (f.n <= 1) return num(f.median, digits)
  return `${num(f.median, digits)} (${num(f.min, digits)}–${num(f.max, digits)})`
}

export function ratio(r: Ratio, digits = 2): string {
  return `${num(r.value, digits)} (${num(r.low, digits)}–${num(r.high, digits)})`
}

export function mib(bytes: number): string {
  return `${num(bytes / 2 ** 20, 1)} MiB`
}

export function kib(bytes: number): string {
  return `${num(bytes / 1024, 1)} KiB`
}

/** "met", or how far off at the median: `**missed** by 53%`. */
export function verdict(value: number, target: number, higherIsBetter: boolean): string {
  if (!Number.isFinite(value)) return 'not measured'
  const met = higherIsBetter ? value >= target : value <= target
  if (met) return 'met'
  const off = higherIsBetter ? (1 - value / target) * 100 : (value / target - 1) * 100
  // Never "missed by 0%" (or 0.0%) beside a value that displays as the target.
  const shown = off >= 1 ? num(off) : off >= 0.1 ? num(off, 1) : off >= 0.01 ? num(off, 2) : '< 0.01'
  return `**missed** by ${shown}%`
}

/**
 * {@link verdict} of a ratio's median, saying so when the spread's other end
 * falls on the other side of the target: one more run could turn it.
 */
export function ratioVerdict(r: Ratio, target: number, higherIsBetter: boolean): string {
  const atMedian = verdict(r.value, target, higherIsBetter)
  if (![r.low, r.high].every(Number.isFinite)) return atMedian
  const meets = (x: number) => (higherIsBetter ? x >= target : x <= target)
  const crosses = meets(r.value) ? !meets(r.low) || !meets(r.high) : meets(r.low) || meets(r.high)
  return crosses ? `${atMedian} at the median; the spread crosses the target` : atMedian
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}
