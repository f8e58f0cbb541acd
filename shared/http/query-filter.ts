/**
 * A route's one optional filter, read from the URL itself: Hono's `queries()`
 * leaves out a nameless parameter (`?=x`), which would read as "no filter".
 * Any other parameter, the filter twice, or the filter empty is refused: a
 * misspelt (`?orderid=`), repeated or empty filter must never mean "all".
 */
export function readOnlyFilter(
  params: URLSearchParams,
  name: string,
): { ok: true; value: string | undefined } | { ok: false; message: string } {
  const counts = new Map<string, number>()
  for (const key of params.keys()) counts.set(key, (counts.get(key) ?? 0) + 1)
  const wrong = [...counts].filter(([key, n]) => key !== name || n > 1).map(([key]) => key)
  if (wrong.length > 0)
    return {
      ok: false,
      message: `the only parameter is ${name}, once; got ${wrong.map((key) => JSON.stringify(key.slice(0, 40))).join(', ')}`,
    }
  const value = params.get(name) ?? undefined
  if (value === '') return { ok: false, message: `${name} is empty; leave it out for no filter` }
  return { ok: true, value }
}
