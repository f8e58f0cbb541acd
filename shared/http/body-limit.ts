import type { Context, Env, MiddlewareHandler } from 'hono'
import { clientAddress, setClientAddress } from './client-address.ts'

export function payloadTooLarge(c: Context, maxBytes: number): Response {
  // Closing the connection stops the server from reading what the client still sends.
  c.header('Connection', 'close')
  return c.json({ error: 'payload_too_large', message: `the body must be at most ${maxBytes} bytes` }, 413)
}

function declaredTooLarge(c: Context, maxBytes: number): boolean {
  const declared = c.req.header('Content-Length')
  return declared !== undefined && !(/^\d{1,15}$/.test(declared.trim()) && Number(declared) <= maxBytes)
}

/** A `Content-Length` (within the limit, checked before) and no `Transfer-Encoding`. */
function framedByLength(c: Context): boolean {
  return c.req.header('Content-Length') !== undefined && c.req.header('Transfer-Encoding') === undefined
}

/**
 * 413 at once when `Content-Length` says the body is over `maxBytes`; reads
 * nothing. Cheap enough to run before authentication.
 */
export function limitDeclaredBody(maxBytes: number): MiddlewareHandler {
  return async (c, next) => (declaredTooLarge(c, maxBytes) ? payloadTooLarge(c, maxBytes) : next())
}

export interface LimitBodyOptions<E extends Env> {
  /**
   * Whether the route may read the body: then it is held (at most
   * `maxBytes`) and handed on; else it is read chunk by chunk and dropped,
   * only to enforce the limit. Default: always held.
   */
  hold?: (c: Context<E>) => boolean
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
  { hold = () => true }: LimitBodyOptions<E> = {},
): MiddlewareHandler<E> {
  return async (c, next) => {
    if (declaredTooLarge(c, maxBytes)) return payloadTooLarge(c, maxBytes)
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
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) {
        void reader.cancel().catch(() => undefined)
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
