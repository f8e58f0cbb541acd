// A service keeps reconnecting through authorization errors: its identity's
// key taken out of the server's configuration (a rotation done in the wrong
// order, a mistaken reload) must not end its connection for good; putting
// the key back brings it back, with no restart.
import { connect } from '@nats-io/transport-node'
import { describe, expect, it } from 'vitest'
import { connectNats } from '../shared/nats/connect.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { createNkeyIdentity } from '../shared/security/nats-identity.ts'
import { reloadConfig, startNatsServer } from './harness/nats-server.ts'
import { waitFor } from './harness/wait-for.ts'

describe('a NATS identity the server stops taking', () => {
  it('keeps reconnecting, and is connected again once the server takes its key back', async () => {
    await using server = await startNatsServer({ websocket: false })
    const { servers: _servers, ...identity } = server.connectOptions('payment')
    const key = identity.inboxPrefix?.replace(/^_INBOX_/, '') ?? ''
    expect(key).toMatch(/^U[A-Z0-9]{55}$/)
    const lines: { level: string; msg: string }[] = []
    const handle = await connectNats({
      connect,
      servers: [server.url],
      name: 'rotation',
      logger: createLogger({
        service: 'test',
        level: 'debug',
        destination: { write: (line) => lines.push(JSON.parse(line) as { level: string; msg: string }) },
      }),
      options: { ...identity, reconnectTimeWait: 200, reconnectJitter: 50 },
    })
    try {
      const stranger = createNkeyIdentity().publicKey
      await reloadConfig(server, key, stranger, 1)
      await waitFor(() => !handle.isConnected(), { timeoutMs: 10_000, message: 'the connection refused' })
      // Several refused reconnects (nats.js gives up after the second by default).
      await waitFor(
        () => (server.log().match(/Authorization Violation|authentication error/gi) ?? []).length >= 4,
        {
          timeoutMs: 10_000,
          message: 'refused reconnects',
        },
      )
      expect(handle.nc.isClosed()).toBe(false)
      // Said once at error level (and the disconnect once at warn), not at every refused attempt.
      const said = (level: string, msg: RegExp) =>
        lines.filter((l) => l.level === level && msg.test(l.msg)).length
      expect(said('error', /refused this identity/)).toBe(1)
      expect(said('error', /nats server error/)).toBe(0)
      expect(said('warn', /nats disconnected/)).toBe(1)
      expect(said('debug', /refused this identity again/)).toBeGreaterThanOrEqual(2)
      await reloadConfig(server, stranger, key, 2)
      await waitFor(() => handle.isConnected(), { timeoutMs: 10_000, message: 'connected again' })
      await handle.nc.flush()
    } finally {
      await handle.nc.close()
    }
  })
})
