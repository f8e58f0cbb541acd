import type { Context } from 'hono'
import { bodyBytes } from './body-limit.ts'

/**
 * `application/json`, with parameters; a charset, if named, must be UTF-8
 * or its subset US-ASCII (RFC 8259: JSON exchanged between systems is UTF-8,
 * and the body is read as such). `+json` types (`application/merge-patch+json`, ...) mean other
 * semantics and are refused with the rest.
 */
export function isJsonContentType(header: string | undefined): boolean {
  const match = /^application\/json\s*(?:;(.*))?$/i.exec(header ?? '')
  if (match === null) return false
  // Every charset parameter must name UTF-8 or US-ASCII: `charset=utf-8; charset=latin1` is not JSON's.
  const charsets = [...(match[1] ?? '').matchAll(/(?:^|;)\s*charset\s*=\s*"?([^";\s]*)"?/gi)]
  return charsets.every((charset) => /^(utf-?8|us-ascii)$/i.test(charset[1] ?? ''))
}

/**
 * What a 415 says of a body sent with a content coding (gzip, ...), which no
 * route here decodes; `undefined` for none or `identity`. Read as it is, such
 * a body would be refused as "not valid JSON", which it may well be once
 * decoded.
 */
export function contentCodingProblem(header: string | undefined): string | undefined {
  if (header === undefined || /^\s*(identity)?\s*$/i.test(header)) return undefined
  return 'a Content-Encoding is not accepted: send the body as it is'
}

/**
 * The 415 for a body a JSON route does not read (not `application/json`, or
 * sent with a content coding), or `undefined` to go on. `typeMessage` is what
 * the 415 for the wrong type says.
 */
export function unsupportedJsonBody(c: Context, typeMessage = 'send application/json'): Response | undefined {
  if (!isJsonContentType(c.req.header('Content-Type')))
    return c.json({ error: 'unsupported_media_type', message: typeMessage }, 415)
  const coding = contentCodingProblem(c.req.header('Content-Encoding'))
  return coding === undefined ? undefined : c.json({ error: 'unsupported_media_type', message: coding }, 415)
}

/**
 * Whether a parsed body is a JSON object. Every body this project takes is
 * one; Valibot's object schemas also accept an array (its indices read as
 * unknown keys and its fields as missing), so routes check this first.
 */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** What a route says of a body that is valid JSON but not an object. */
export const NOT_A_JSON_OBJECT = 'must be a JSON object'

/** The 400 of a route whose body is valid JSON but not an object, as its schema violations are answered (`error`). */
export function notAJsonObject(c: Context, error: string): Response {
  const issues = [{ path: '', message: NOT_A_JSON_OBJECT }]
  return c.json({ error, message: `body: ${NOT_A_JSON_OBJECT}`, issues }, 400)
}

/** Parses a request body: the value, or `ok: false` for text that is not JSON. */
export function parseJsonBody(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch {
    return { ok: false }
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

/** Why a body is not a JSON value: what a 400 `malformed_json` says. */
export type JsonBodyProblem =
  'the body is not valid UTF-8' | 'the body is not valid JSON' | 'the body names a member twice in one object'

/**
 * Whether valid JSON text names a member twice in one object. `JSON.parse`
 * keeps the last silently, so `{"amountCents":5,"amountCents":7}` would be
 * read as 7 here and as 5 by a proxy or a log reader that keeps the first
 * (RFC 8259 4: names SHOULD be unique; I-JSON, RFC 7493: MUST). One pass
 * over text `JSON.parse` has already accepted.
 */
export function namesAMemberTwice(text: string): boolean {
  const open: (Set<string> | undefined)[] = [] // the names of each open object; undefined for an array
  let keyNext = false
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    if (ch === 0x22) {
      let end = i + 1
      let escaped = false
      for (let c = text.charCodeAt(end); c !== 0x22; c = text.charCodeAt(end)) {
        if (c === 0x5c) {
          escaped = true
          end += 2
        } else end++
      }
      if (keyNext) {
        const name = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end)
        const names = open[open.length - 1]
        if (names === undefined || names.has(name)) return true
        names.add(name)
        keyNext = false
      }
      i = end
    } else if (ch === 0x7b) {
      open.push(new Set())
      keyNext = true
    } else if (ch === 0x5b) open.push(undefined)
    else if (ch === 0x7d || ch === 0x5d) open.pop()
    else if (ch === 0x2c) keyNext = open.length > 0 && open[open.length - 1] !== undefined
  }
  return false
}

/**
 * The request's JSON body, read within the body deadline ({@link bodyBytes}).
 * Bytes that are not UTF-8 are refused, not read as U+FFFD: a replacement
 * character in a name or an id would be stored as if the client had sent it.
 */
export async function readJsonBody(
  c: Context,
): Promise<{ ok: true; value: unknown } | { ok: false; message: JsonBodyProblem }> {
  const bytes = await bodyBytes(c)
  let text: string
  try {
    text = strictUtf8.decode(bytes)
  } catch (error) {
    if (error instanceof TypeError) return { ok: false, message: 'the body is not valid UTF-8' }
    throw error
  }
  const parsed = parseJsonBody(text)
  if (!parsed.ok) return { ok: false, message: 'the body is not valid JSON' }
  return namesAMemberTwice(text)
    ? { ok: false, message: 'the body names a member twice in one object' }
    : parsed
}
