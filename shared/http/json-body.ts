/** `application/json`, `application/json; charset=utf-8`, `application/problem+json`, ... */
export function isJsonContentType(header: string | undefined): boolean {
  return /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(header ?? '')
}

/** Parses a request body: the value, or `ok: false` for text that is not JSON. */
export function parseJsonBody(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    return { ok: false }
  }
}
