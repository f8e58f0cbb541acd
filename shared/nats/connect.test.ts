import { createServer } from 'node:net'
import { connect } from '@nats-io/transport-node'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../observability/logger.ts'
import { startNatsServer } from '../../test/harness/nats-server.ts'
import { waitFor } from '../../test/harness/wait-for.ts'
import { connectNats, NatsConnectError, reconnectWaitMs } from './connect.ts'

describe('connectNats', () => {
  it('refuses a ws:// URL on the TCP client at once instead of retrying it until the deadline', async () => {
    const started = Date.now()
    const attempt = connectNats({
      connect,
      servers: ['ws://127.0.0.1:9'],
      name: 'test',
      logger: createLogger({ service: 'test', level: 'silent' }),
      maxWaitMs: 20_000,
    })
    await expect(attempt).rejects.toBeInstanceOf(NatsConnectError)
    await expect(attempt).rejects.toThrow(
      /NATS_URL ws:\/\/127\.0\.0\.1:9: .*ws:\/\/ and wss:\/\/ are for the Deno and Workers intakes/,
    )
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('gives up close to a short deadline: the waits and each attempt end with it', async () => {
    const attempts: number[] = []
    const started = Date.now()
    // Refused at once, as with nothing listening: the waits between attempts decide the time.
    const refused = (options: { timeout?: number }) => {
      attempts.push(options.timeout ?? -1)
      return Promise.reject(new Error('connection refused'))
    }
    await expect(
      connectNats({
        connect: refused,
        servers: ['nats://127.0.0.1:9'],
        name: 'test',
        logger: createLogger({ service: 'test', level: 'silent' }),
        maxWaitMs: 1_000,
        // Waits that start long, as after many failures: without the bound, one of up to 5 s after the deadline.
        initialDelayMs: 5_000,
      }),
    ).rejects.toBeInstanceOf(NatsConnectError)
    expect(Date.now() - started).toBeLessThan(1_700)
    expect(attempts.length).toBeGreaterThan(1)
    expect(Math.max(...attempts)).toBeLessThanOrEqual(1_000)
  })

  it('announces a retry only when one follows, with the reason in one line', async () => {
    const lines: Record<string, unknown>[] = []
    const logger = createLogger({
      service: 'test',
      level: 'info',
      destination: { write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    })
    const refused = () => Promise.reject(new Error('connection refused'))
    const servers = ['nats://127.0.0.1:9']
    await expect(connectNats({ connect: refused, servers, name: 't', logger, maxWaitMs: 0 })).rejects.toThrow(
      /could not connect to nats:\/\/127\.0\.0\.1:9 within 0 ms/,
    )
    expect(lines).toStrictEqual([])
    await expect(
      connectNats({ connect: refused, servers, name: 't', logger, maxWaitMs: 300, initialDelayMs: 50 }),
    ).rejects.toBeInstanceOf(NatsConnectError)
    expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) {
      expect(line).toMatchObject({ msg: 'nats connect failed; retrying', reason: 'connection refused' })
      expect(line['remainingMs']).toBeGreaterThan(0)
      expect(line).not.toHaveProperty('err')
    }
  })
})

describe('reconnectWaitMs', () => {
  it('waits 1 s for the first seconds of an outage, then a quarter of it, up to the cap', () => {
    expect(
      [0, 2_000, 4_000, 8_000, 16_000, 60_000, 600_000].map((t) => reconnectWaitMs(t, 1_000, 5_000)),
    ).toStrictEqual([1_000, 1_000, 1_000, 2_000, 4_000, 5_000, 5_000])
    // A cap under the base is the base.
    expect(reconnectWaitMs(60_000, 1_000, 500)).toBe(1_000)
  })
})

describe('connectNats reconnecting', () => {
  it('waits longer between attempts the longer the outage lasts, up to the cap, and connects again once the server is back', async () => {
    const server = await startNatsServer({ websocket: false })
    const attempts: number[] = []
    // In the server's place while it is down: takes each attempt and closes it, so every attempt is seen.
    const standIn = createServer((socket) => {
      attempts.push(Date.now())
      socket.destroy()
    })
    const lines: Record<string, unknown>[] = []
    const logger = createLogger({
      service: 'test',
      level: 'info',
      destination: { write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    })
    let handle: Awaited<ReturnType<typeof connectNats>> | undefined
    try {
      handle = await connectNats({
        connect,
        servers: [server.url],
        name: 'reconnect-backoff',
        logger,
        reconnectMaxDelayMs: 4_000,
        options: { ...server.connectOptions(), servers: [server.url] },
      })
      await server.kill()
      const outageStart = Date.now()
      await new Promise<void>((resolve, reject) => {
        standIn.once('error', reject)
        standIn.listen(server.port, '127.0.0.1', resolve)
      })
      await new Promise((resolve) => setTimeout(resolve, 13_000 - (Date.now() - outageStart)))
      await new Promise((resolve) => standIn.close(resolve))
      // 1 s apart for the first 4 s, then a quarter of the outage so far: the last ones
      // 2.5-3 s apart (a fixed 1-1.5 s wait never reaches 2 s), each plus up to 0.5 s of jitter.
      const gaps = attempts.slice(1).map((at, i) => at - (attempts[i] ?? at))
      const seen = `attempts ${gaps.join(', ')} ms apart`
      expect(attempts.length, seen).toBeGreaterThanOrEqual(4)
      expect(Math.min(...gaps.slice(0, 2)), seen).toBeLessThan(1_600)
      expect(Math.max(...gaps), seen).toBeGreaterThanOrEqual(2_000)
      // (Plus what a loaded machine adds to a timer.)
      expect(Math.max(...gaps), seen).toBeLessThanOrEqual(4_500 + 1_000)
      const restarted = Date.now()
      await server.restart()
      await waitFor(() => handle?.isConnected(), { timeoutMs: 8_000, message: 'reconnected' })
      // Within one capped wait of the server's return.
      expect(Date.now() - restarted).toBeLessThan(4_500 + 2_000)
      expect(
        lines.map((l) => l.msg).filter((m) => m === 'nats disconnected' || m === 'nats reconnected'),
      ).toStrictEqual(['nats disconnected', 'nats reconnected'])
    } finally {
      standIn.close()
      await handle?.nc.close().catch(() => undefined)
      await server.dispose()
    }
  }, 40_000)
})
