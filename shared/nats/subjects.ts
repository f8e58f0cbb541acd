/**
 * Whether some subject matches both filters (`*` is one token, `>` one or
 * more at the end). A literal subject overlaps a filter when it matches it.
 */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('.')
  const y = b.split('.')
  for (let i = 0; ; i++) {
    const p = x[i]
    const q = y[i]
    if (p === undefined || q === undefined) return p === q
    if (p === '>' || q === '>') return true
    if (p !== q && p !== '*' && q !== '*') return false
  }
}
