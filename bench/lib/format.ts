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

/** "met", or how far off: `miss: 0.42 vs >= 0.9 (53% short)`. */
export function verdict(value: number, target: number, higherIsBetter: boolean): string {
  if (!Number.isFinite(value)) return 'not measured'
  const met = higherIsBetter ? value >= target : value <= target
  if (met) return 'met'
  const off = higherIsBetter ? (1 - value / target) * 100 : (value / target - 1) * 100
  // A miss under 1% keeps a decimal: never "missed by 0%".
  return `**missed** by ${num(off, off < 1 ? 1 : 0)}%`
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}
