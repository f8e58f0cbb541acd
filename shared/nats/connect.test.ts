import { connect } from '@nats-io/transport-node'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../observability/logger.ts'
import { connectNats, NatsConnectError } from './connect.ts'

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
