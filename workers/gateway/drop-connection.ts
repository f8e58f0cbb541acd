/**
 * Ends a request's connection without any answer (`tok_drop`,
 * GATEWAY_DROP_RATE): the client sees a reset, never a status line. The one
 * place in the gateway that knows how each server does that, by feature
 * detection rather than a runtime check:
 *
 * - Node (@hono/node-server): the request holds its IncomingMessage under a
 *   symbol described `incomingKey`; its socket is reset (RST), and the
 *   answer carries `x-hono-already-sent` so the server writes nothing more.
 * - Bun.serve: a body stream that errors before its first chunk makes Bun
 *   reset the connection before the status line (checked with a raw socket:
 *   0 bytes, then ECONNRESET; fetch rejects with a TypeError). `error()`
 *   without a reason keeps Bun from printing it.
 * - Deno.serve writes the status line and headers first and then resets: a
 *   client there gets headers and a body read that fails.
 *
 * The status, never sent, is what logs and metrics count: 444, nginx's
 * "connection closed without response".
 */
export const CONNECTION_DROPPED = 444

export function dropConnection(request: Request): Response {
  const socket = nodeSocket(request)
  if (socket) {
    if (socket.resetAndDestroy) socket.resetAndDestroy()
    else socket.destroy()
    return new Response(null, { status: CONNECTION_DROPPED, headers: { 'x-hono-already-sent': 'true' } })
  }
  const body = new ReadableStream<Uint8Array>({ start: (controller) => controller.error() })
  return new Response(body, { status: CONNECTION_DROPPED })
}

interface NodeSocket {
  destroy(): void
  resetAndDestroy?: () => void
}

function nodeSocket(request: Request): NodeSocket | undefined {
  const key = Object.getOwnPropertySymbols(request).find((symbol) => symbol.description === 'incomingKey')
  if (key === undefined) return undefined
  const incoming = (request as unknown as Record<symbol, { socket?: Partial<NodeSocket> } | undefined>)[key]
  const socket = incoming?.socket
  return typeof socket?.destroy === 'function' ? (socket as NodeSocket) : undefined
}
