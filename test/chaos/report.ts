// Plain-text tables for the chaos runs: one block per scenario, one summary.

export interface CheckResult {
  check: string
  ok: boolean
  detail: string
}

export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n')
}

export const ms = (value: number | undefined): string =>
  value === undefined ? 'n/a' : `${Math.round(value)}`

export const seconds = (value: number): string => (value / 1000).toFixed(1)

/** At most `n` items, then how many more. */
export function sample(items: readonly string[], n = 5): string {
  return items.length <= n ? items.join(', ') : `${items.slice(0, n).join(', ')} … (+${items.length - n})`
}

export function checksTable(checks: readonly CheckResult[]): string {
  return formatTable(
    ['check', 'result', 'detail'],
    checks.map((c) => [c.check, c.ok ? 'ok' : 'FAIL', c.detail]),
  )
}
