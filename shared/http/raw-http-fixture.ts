/**
 * Test fixture: a raw `node:net` HTTP/1.1 client for what no well-behaved
 * client sends (bad chunked framing, a body cut off mid-way, a socket
 * destroyed mid-upload). Used only by tests.
 */
import { connect } from 'node:net'

export interface RawExchange {
  /** `HTTP/1.1 413 Payload Too Large`, or undefined when nothing came back. */
  statusLine: string | undefined
  status: number | undefined
  /** Everything the server sent (all of it with `then: 'end'`). */
  text: string
}

export interface RawOptions {
  /**
   * `destroy`: reset the socket once everything is written (the client went
   * away); `read`: close once the status line is in; `end`: half-close once
   * everything is written and read until the server closes.
   */
  then: 'destroy' | 'read' | 'end'
  /** Deadline for the whole exchange. */
  timeoutMs?: number
}

/** Sends `head` then each part, then either destroys the socket or reads the status line. */
export function rawExchange(
  port: number,
  head: string,
  parts: readonly (string | Uint8Array)[],
  { then, timeoutMs = 5_000 }: RawOptions,
): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    let received = ''
    const socket = connect(port, '127.0.0.1')
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`raw exchange took over ${timeoutMs} ms`))
    }, timeoutMs)
    const finish = () => {
      clearTimeout(timer)
      const statusLine = received.includes('\r\n') ? received.slice(0, received.indexOf('\r\n')) : undefined
      const status = statusLine === undefined ? undefined : Number(statusLine.split(' ')[1])
      resolve({ statusLine, status, text: received })
    }
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1')
      if (then === 'read' && received.includes('\r\n')) {
        socket.destroy()
      }
    })
    socket.on('error', () => undefined) // a reset after the server gave up is expected
    socket.on('close', finish)
    socket.on('connect', () => {
      socket.write(head)
      for (const part of parts) socket.write(part)
      if (then === 'destroy') socket.write('', () => socket.resetAndDestroy())
      if (then === 'end') socket.end()
    })
  })
}

/** A request head; `length` sets Content-Length, else the body is chunked. */
export function requestHead(
  method: string,
  path: string,
  headers: Record<string, string>,
  length?: number,
): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1']
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  lines.push(length === undefined ? 'Transfer-Encoding: chunked' : `Content-Length: ${length}`)
  return `${lines.join('\r\n')}\r\n\r\n`
}

/** One chunk of a chunked body. */
export function chunk(data: string | Uint8Array): Uint8Array {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
  const size = new TextEncoder().encode(`${bytes.byteLength.toString(16)}\r\n`)
  const out = new Uint8Array(size.byteLength + bytes.byteLength + 2)
  out.set(size, 0)
  out.set(bytes, size.byteLength)
  out.set([13, 10], size.byteLength + bytes.byteLength)
  return out
}
