// dropConnection on Node's server (@hono/node-server, what serveHttp uses
// under vitest): a real client gets a reset and no status line. The same on
// Bun is checked against the gateway process (main.test.ts).
import { connect } from 'node:net'
import { describe, expect, it, onTestFinished } from 'vitest'
import { serveHttp } from '../../shared/runtime/server.ts'
import { CONNECTION_DROPPED, dropConnection } from './drop-connection.ts'

/** Sends a raw request; resolves with the bytes received and how the socket ended. */
function rawRequest(port: number): Promise<{ received: string; ended: string }> {
  return new Promise((resolve) => {
    let received = ''
    let ended = 'close'
    const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: gateway\r\n\r\n'))
    socket.setTimeout(5_000, () => ((ended = 'timeout'), socket.destroy()))
    socket.on('data', (chunk) => (received += chunk.toString()))
    socket.on('error', (error: NodeJS.ErrnoException) => (ended = error.code ?? error.message))
    socket.on('close', () => resolve({ received, ended }))
  })
}

describe('dropConnection', () => {
  it('on Node: resets the connection before any byte of an answer', async () => {
    const seen: number[] = []
    const server = await serveHttp({
      fetch: (request) => {
        const response = dropConnection(request)
        seen.push(response.status)
        return response
      },
      port: 0,
      hostname: '127.0.0.1',
    })
    onTestFinished(() => server.close())

    const fetched = await fetch(`http://127.0.0.1:${server.port}/`).then(
      () => 'answered',
      (error: unknown) => error,
    )
    const raw = await rawRequest(server.port)

    expect(fetched).toBeInstanceOf(TypeError)
    expect(fetched).toMatchObject({ cause: { code: 'ECONNRESET' } })
    expect(raw).toStrictEqual({ received: '', ended: 'ECONNRESET' })
    expect(seen).toStrictEqual([CONNECTION_DROPPED, CONNECTION_DROPPED])
  })

  it('without a socket (app.request): a 444 whose body cannot be read', async () => {
    const response = dropConnection(new Request('http://gateway/charges'))
    expect(response.status).toBe(CONNECTION_DROPPED)
    expect(
      await response.text().then(
        () => 'read',
        () => 'failed',
      ),
    ).toBe('failed')
  })
})
