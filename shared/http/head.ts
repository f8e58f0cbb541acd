/**
 * `HEAD` as `GET`, without the body (docs/api.md): Hono runs the `GET` route
 * and drops its body afterwards, and the HTTP server then has no length to
 * send (Bun answers `Content-Length: 0` and no `Date` to a body-less answer).
 * Registered first on every app, so it sees the answer every other middleware
 * made: it measures the body the client will not get and says its length,
 * and dates the answer. A stream (an SSE route answers `HEAD` by itself) and
 * a body not read within {@link HEAD_BODY_READ_MS} keep no length: they are
 * said `Transfer-Encoding: chunked`, as GET sends them.
 */
import type { Context, MiddlewareHandler, Next } from 'hono'

export const HEAD_BODY_READ_MS = 2_000

export const headAsGet: MiddlewareHandler = (c, next) =>
  c.req.method === 'HEAD' ? answerHead(c, next) : next()

/** What {@link headAsGet} does for HEAD; anything else is handed on untouched. */
async function answerHead(c: Context, next: Next): Promise<void> {
  await next()
  const res = c.res
  const headers = new Headers(res.headers)
  if (!headers.has('Date')) headers.set('Date', new Date().toUTCString())
  let lengthUnknown = isStream(headers)
  if (res.body !== null) {
    if (headers.has('Content-Length') || lengthUnknown) await res.body.cancel().catch(() => undefined)
    else {
      const length = await bodyLength(res.body, HEAD_BODY_READ_MS)
      if (length === undefined) lengthUnknown = true
      else headers.set('Content-Length', String(length))
    }
  }
  // GET would send it chunked. Said, Bun and Node send no `Content-Length: 0`
  // for a body-less answer (Deno drops it and says 0).
  if (lengthUnknown && !headers.has('Content-Length')) headers.set('Transfer-Encoding', 'chunked')
  c.res = new Response(null, { status: res.status, statusText: res.statusText, headers })
}

const isStream = (headers: Headers): boolean =>
  (headers.get('Content-Type') ?? '').toLowerCase().startsWith('text/event-stream')

/** The body's length in bytes; undefined when it fails or is still going after `ms` (then cancelled). */
async function bodyLength(body: ReadableStream<Uint8Array>, ms: number): Promise<number | undefined> {
  const reader = body.getReader()
  let late = false
  const timer = setTimeout(() => {
    late = true
    reader.cancel().catch(() => undefined)
  }, ms)
  let length = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (late) return undefined
      if (done) return length
      length += value.byteLength
    }
  } catch {
    return undefined
  } finally {
    clearTimeout(timer)
  }
}
