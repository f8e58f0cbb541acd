// The intake at the edge (a connection per request) answers 503 with
// Retry-After, within its request budget, when NATS stops answering right
// after the connect: also on an isolate's first request, which reads the
// sealed buckets' seal floor before anything else.
import { connect } from '@nats-io/transport-node'
import { describe, expect, it } from 'vitest'
import { BUCKETS } from '../schemas/subjects.ts'
import { createConsoleLogger } from '../shared/observability/console-logger.ts'
import { createLightMetrics } from '../shared/observability/light-metrics.ts'
import { parseRecordKeys, recordKeysText } from '../shared/security/record-seal.ts'
import { createConnectPerRequestStore } from '../workers/order/connect-per-request.ts'
import { UnavailableError } from '../workers/order/order-store.ts'
import { startNatsServer } from './harness/nats-server.ts'
import { stopAndWait } from './harness/process.ts'
import { provisionNats } from './support/provision.ts'

describe('the edge intake on a NATS that stalls after the connect', () => {
  it('refuses with UnavailableError within its budget while reading the seal floor', async () => {
    await using server = await startNatsServer({ websocket: false })
    await provisionNats([server.url])
    const recordKeys = parseRecordKeys(
      await recordKeysText('a-test-master-secret-of-enough-length', [
        BUCKETS.orderStatus,
        BUCKETS.idempotency,
      ]),
    )
    let stopped = false
    const { store } = createConnectPerRequestStore({
      sealer: { seal: () => Promise.reject(new Error('not reached')) },
      // Connected, then the server stops answering (kill -STOP) before the floor is read.
      open: async () => {
        const nc = await connect({ ...server.connectOptions('order-edge'), timeout: 2_000 })
        stopped = true
        await stopAndWait(server.pid)
        return nc
      },
      logger: createConsoleLogger({ service: 'order-edge', level: 'silent' }),
      metrics: createLightMetrics('t'),
      timeoutMs: 800,
      recordKeys,
    })
    try {
      const started = Date.now()
      const read = store.getOrder('0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f')
      await expect(read).rejects.toBeInstanceOf(UnavailableError)
      expect(Date.now() - started).toBeLessThan(2_000)
    } finally {
      if (stopped) process.kill(server.pid, 'SIGCONT')
    }
  })
})
