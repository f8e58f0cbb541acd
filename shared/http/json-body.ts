/**
 * `application/json`, with parameters; a charset, if named, must be UTF-8
 * or its subset US-ASCII (RFC 8259: JSON exchanged between systems is UTF-8,
 * and the body is read as such). `+json` types (`application/merge-patch+json`, ...) mean other
 * semantics and are refused with the rest.
 */
export function isJsonContentType(header: string | undefined): boolean {
  const match = /^application\/json\s*(?:;(.*))?$/i.exec(header ?? '')
  if (match === null) return false
  const charset = /(?:^|;)\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(match[1] ?? '')
  return charset === null || /^(utf-?8|us-ascii)$/i.test(charset[1] ?? '')
}

/** Parses a request body: the value, or `ok: false` for text that is not JSON. */
export function parseJsonBody(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    return { ok: false }
  }
}
