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
})
