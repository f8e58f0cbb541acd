import type { Context, MiddlewareHandler } from 'hono'
import { clientAddress, setClientAddress } from './client-address.ts'

export function payloadTooLarge(c: Context, maxBytes: number): Response {
  // Closing the connection stops the server from reading what the client still sends.
  c.header('Connection', 'close')
  return c.json({ error: 'payload_too_large', message: `the body must be at most ${maxBytes} bytes` }, 413)
}

/**
 * Refuses a body over `maxBytes` with 413 on every route, before anything
 * else reads it: at once when `Content-Length` says so, else (chunked, or a
 * length that lies) as soon as the bytes read pass the limit. Never holds
 * more than `maxBytes` of a body; a body within the limit is handed on.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  return async (c, next) => {
    const declared = c.req.header('Content-Length')
    if (declared !== undefined && !(/^\d{1,15}$/.test(declared.trim()) && Number(declared) <= maxBytes)) {
      return payloadTooLarge(c, maxBytes)
    }
    const body = c.req.raw.body
    if (body === null) return next()
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
      chunks.push(value)
    }
    const bytes = new Uint8Array(size)
    let offset = 0
    for (const chunk of chunks) {
      bytes.set(chunk, offset)
      offset += chunk.byteLength
    }
    // GET and HEAD cannot carry a body on: their handlers read none.
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const raw = c.req.raw
      c.req.raw = new Request(raw, { body: bytes, signal: raw.signal })
      setClientAddress(c.req.raw, clientAddress(raw))
    }
    await next()
  }
}
