import type { Context, Env, MiddlewareHandler } from 'hono'
import { withDeadline } from '../resilience/deadline.ts'
import { clientAddress, setClientAddress } from './client-address.ts'

/** How long a request body may take to arrive in full; after that, 408 `request_timeout`. */
export const BODY_READ_MS = 10_000

/** A body that did not arrive in full within its deadline (the shared error handler answers 408). */
export class BodyTimeoutError extends Error {
  override readonly name = 'BodyTimeoutError'
  constructor(readonly deadlineMs: number) {
    super(`the body did not arrive within ${deadlineMs} ms`)
  }
}

/** 408, and the connection closed: what is still on its way is not read. */
export function requestTimeout(c: Context, deadlineMs = BODY_READ_MS): Response {
  c.header('Connection', 'close')
  return c.json(
    { error: 'request_timeout', message: `the body did not arrive within ${deadlineMs / 1000} s` },
    408,
  )
}

/** `read`, or a {@link BodyTimeoutError} once `deadline` (epoch ms) has passed. */
function byDeadline<T>(read: Promise<T>, deadline: number, deadlineMs: number): Promise<T> {
  return withDeadline(read, Math.max(0, deadline - Date.now()), () => new BodyTimeoutError(deadlineMs))
}

/**
 * The request's body as text, read within `deadlineMs` of the call; a body
 * still arriving then (a client that stalls or trickles) is a
 * {@link BodyTimeoutError}, which the shared error handler answers with 408.
 */
export function bodyText(c: Context, deadlineMs = BODY_READ_MS): Promise<string> {
  return byDeadline(c.req.text(), Date.now() + deadlineMs, deadlineMs).catch(unreadBody)
}

/** {@link bodyText}'s deadline, the body as bytes. */
export function bodyBytes(c: Context, deadlineMs = BODY_READ_MS): Promise<ArrayBuffer> {
  return byDeadline(c.req.arrayBuffer(), Date.now() + deadlineMs, deadlineMs).catch(unreadBody)
}

/**
 * The body could not be read because its connection failed: the client left.
 * workerd says only `Error: Network connection lost.` and leaves the
 * request's signal as it was (Bun and Node abort it; Deno's serveHttp does).
 * Only a plain `Error` from the runtime's body stream counts: a TypeError (a
 * body read twice), a RangeError (memory) and the like are the service's own.
 */
export class BodyReadError extends Error {
  override name = 'BodyReadError'
}

function unreadBody(error: unknown): never {
  if (error instanceof Error && error.name === 'Error' && Object.getPrototypeOf(error) === Error.prototype)
    throw new BodyReadError('the request body could not be read', { cause: error })
  throw error
}

export function payloadTooLarge(
  c: Context,
  maxBytes: number,
  message = `the body must be at most ${maxBytes} bytes`,
): Response {
  // Closing the connection stops the server from reading what the client still sends.
  c.header('Connection', 'close')
  return c.json({ error: 'payload_too_large', message }, 413)
}

/**
 * The declared length: a number, or NaN when the header is not one. The
 * same length sent twice reaches the service as `N, N` (Bun joins the
 * headers, and frames the body by it; two different ones it refuses itself):
 * that is N, as RFC 9110 section 8.6 allows.
 */
function declaredLength(declared: string): number {
  const [first = '', ...more] = declared.split(',').map((part) => part.trim())
  return /^\d{1,15}$/.test(first) && more.every((length) => length === first) ? Number(first) : Number.NaN
}

function declaredTooLarge(c: Context, maxBytes: number): boolean {
  const declared = c.req.header('Content-Length')
  return declared !== undefined && !(declaredLength(declared) <= maxBytes)
}

/**
 * A GET or HEAD that says a chunked body follows: the HTTP server hands it
 * to no handler, and would read it (and throw it away) for as long as the
 * client sends, so it is refused before any of it is read.
 */
function chunkedWithoutUse(c: Context): boolean {
  const method = c.req.raw.method
  return (method === 'GET' || method === 'HEAD') && c.req.header('Transfer-Encoding') !== undefined
}

/** The 413 of a body a service does not read (a GET's or HEAD's without a length). */
const NO_BODY_HERE = 'a GET or HEAD takes no body'

/** A `Content-Length` (within the limit, checked before) and no `Transfer-Encoding`. */
function framedByLength(c: Context): boolean {
  return c.req.header('Content-Length') !== undefined && c.req.header('Transfer-Encoding') === undefined
}

/**
 * 413 at once when `Content-Length` says the body is over `maxBytes`, or a
 * GET or HEAD says a chunked body follows; reads nothing. Cheap enough to
 * run before authentication.
 */
export function limitDeclaredBody(maxBytes: number): MiddlewareHandler {
  return async (c, next) => {
    if (declaredTooLarge(c, maxBytes)) return payloadTooLarge(c, maxBytes)
    if (chunkedWithoutUse(c)) return payloadTooLarge(c, maxBytes, NO_BODY_HERE)
    return next()
  }
}

/** What of a refused body is still read (and dropped) before the 413, at most. */
export const DISCARD_MAX_BYTES = 256 * 1024
export const DISCARD_MAX_MS = 1_000

/**
 * Reads what is left of a refused body, up to {@link DISCARD_MAX_BYTES} and
 * {@link DISCARD_MAX_MS}, and then cancels the rest. Bun, Node and Deno close
 * the connection after the 413 anyway; workerd keeps it open and resets it
 * when a body was left half read, so a client's next request on it failed.
 */
async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  let left = DISCARD_MAX_BYTES
  let timer: ReturnType<typeof setTimeout> | undefined
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), DISCARD_MAX_MS)
  })
  try {
    while (left > 0) {
      const next = await Promise.race([reader.read(), timedOut])
      if (next === 'timeout' || next.done) break
      left -= next.value.byteLength
    }
  } catch {
    // The client went away: nothing left to read.
  } finally {
    clearTimeout(timer)
    void reader.cancel().catch(() => undefined)
  }
}

export interface LimitBodyOptions<E extends Env> {
  /**
   * Whether the route may read the body: then it is held (at most
   * `maxBytes`) and handed on; else it is read chunk by chunk and dropped,
   * only to enforce the limit. Default: always held.
   */
  hold?: (c: Context<E>) => boolean
  /** How long the body may take to arrive in full (a chunked one, read here). Default {@link BODY_READ_MS}. */
  readMs?: number
}

/**
 * Refuses a body over `maxBytes` with 413: at once when `Content-Length` says
 * so, else (chunked) as soon as the bytes read pass the limit. Never holds
 * more than `maxBytes` of a body; a body within the limit is handed on. It reads the body: on a route that wants an API key,
 * register it after the key check, so nobody without a key makes the
 * service read (let alone hold) a body.
 */
export function limitBody<E extends Env = Env>(
  maxBytes: number,
  { hold = () => true, readMs = BODY_READ_MS }: LimitBodyOptions<E> = {},
): MiddlewareHandler<E> {
  return async (c, next) => {
    if (declaredTooLarge(c, maxBytes)) return payloadTooLarge(c, maxBytes)
    if (chunkedWithoutUse(c)) return payloadTooLarge(c, maxBytes, NO_BODY_HERE)
    // A declared length within the limit bounds the body by HTTP framing (the
    // server reads exactly that many bytes), so the runtime's own reader can
    // take it: no stream in JavaScript, no copy. Only a body without a length
    // (chunked) is counted here.
    if (framedByLength(c)) return next()
    const body = c.req.raw.body
    if (body === null) return next()
    const keep = hold(c)
    const reader = body.getReader()
    const chunks: Uint8Array[] = []
    let size = 0
    const deadline = Date.now() + readMs
    for (;;) {
      let read: Awaited<ReturnType<typeof reader.read>>
      try {
        read = await byDeadline(reader.read(), deadline, readMs)
      } catch (error) {
        if (error instanceof BodyTimeoutError) void reader.cancel().catch(() => undefined)
        unreadBody(error)
      }
      const { done, value } = read
      if (done) break
      size += value.byteLength
      if (size > maxBytes) {
        await discardRest(reader)
        return payloadTooLarge(c, maxBytes)
      }
      if (keep) chunks.push(value)
    }
    // GET and HEAD cannot carry a body on: their handlers read none.
    if (keep && c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const bytes = new Uint8Array(size)
      let offset = 0
      for (const chunk of chunks) {
        bytes.set(chunk, offset)
        offset += chunk.byteLength
      }
      const raw = c.req.raw
      c.req.raw = new Request(raw, { body: bytes, signal: raw.signal })
      setClientAddress(c.req.raw, clientAddress(raw))
    }
    await next()
  }
}
