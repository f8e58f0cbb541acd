import type { ConnectionOptions, NatsConnection, WsConnectionOptions } from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import { connectOnce, NatsUnreachableError } from './connect-once.ts'

const never = new Promise<never>(() => undefined)

function fakeConnection(onClose: () => void): NatsConnection {
  return { close: () => Promise.resolve(onClose()) } as unknown as NatsConnection
}

describe('connectOnce', () => {
  it('rejects at once when the socket factory fails, although the client would wait forever', async () => {
    // Like wsconnect: the factory's error never reaches the caller.
    const connect = (opts: ConnectionOptions) => {
      void (opts as WsConnectionOptions).wsFactory?.('ws://127.0.0.1:1/', opts).catch(() => undefined)
      return never
    }
    const refused = new Error('connection refused')
    const started = Date.now()
    const attempt = connectOnce({
      connect,
      servers: ['ws://127.0.0.1:1'],
      timeoutMs: 5_000,
      name: 't',
      wsFactory: () => Promise.reject(refused),
    })
    await expect(attempt).rejects.toThrow(NatsUnreachableError)
    await expect(attempt).rejects.toMatchObject({ cause: refused })
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('gives up after timeoutMs when nothing answers', async () => {
    const started = Date.now()
    await expect(
      connectOnce({ connect: () => never, servers: ['ws://x'], timeoutMs: 200, name: 't' }),
    ).rejects.toThrow(NatsUnreachableError)
    expect(Date.now() - started).toBeGreaterThanOrEqual(190)
  })

  it('names the server without its user or password', async () => {
    await expect(
      connectOnce({ connect: () => never, servers: ['ws://edge:S3cretPW@x:9'], timeoutMs: 50, name: 't' }),
    ).rejects.toThrow(new NatsUnreachableError('could not connect to ws://***@x:9'))
  })

  it('closes a connection that completes after the deadline', async () => {
    let closed = 0
    const late = new Promise<NatsConnection>((done) =>
      setTimeout(() => done(fakeConnection(() => closed++)), 150),
    )
    await expect(
      connectOnce({ connect: () => late, servers: ['ws://x'], timeoutMs: 50, name: 't' }),
    ).rejects.toThrow(NatsUnreachableError)
    await late
    await new Promise((done) => setTimeout(done, 10))
    expect(closed).toBe(1)
  })

  it('asks for one attempt without reconnects, within the deadline', async () => {
    let seen: ConnectionOptions | undefined
    const nc = fakeConnection(() => undefined)
    const connect = (opts: ConnectionOptions) => {
      seen = opts
      return Promise.resolve(nc)
    }
    await expect(
      connectOnce({
        connect,
        servers: ['wss://a'],
        timeoutMs: 700,
        name: 'edge',
        options: { token: 's3cret' },
      }),
    ).resolves.toBe(nc)
    expect(seen).toMatchObject({
      servers: ['wss://a'],
      name: 'edge',
      timeout: 700,
      reconnect: false,
      maxReconnectAttempts: 0,
      token: 's3cret',
    })
  })
})
