// Readiness covers the KV buckets a service opened, not only the saga's
// streams: an inventory worker whose reservations bucket was deleted takes no
// order (each one would fail and be retried), so /ready must say 503 and name
// the bucket's stream, then 200 again once the provision step has made it anew.
// The edge intake (a connection per request) checks the ORDERS stream, not
// only that NATS answers.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BUCKETS, STREAMS } from '../schemas/subjects.ts'
import { createConsoleLogger } from '../shared/observability/console-logger.ts'
import { createLightMetrics } from '../shared/observability/light-metrics.ts'
import { createConnectPerRequestStore } from '../workers/order/connect-per-request.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'
import { waitFor } from './harness/wait-for.ts'
import { provisionNats } from './support/provision.ts'
import { startWorker } from './support/worker-process.ts'

let server: NatsServerHandle
let nc: NatsConnection
let jsm: JetStreamManager

beforeEach(async () => {
  // An operator deleting a stream as admin: the API guard off.
  server = await startNatsServer({ apiGuard: false })
  nc = await connect(server.connectOptions())
  jsm = await jetstreamManager(nc)
  await provisionNats([server.url])
})

afterEach(async () => {
  await nc?.close().catch(() => undefined)
  await server?.dispose()
})

describe('readiness and KV buckets', () => {
  it('is 503 naming a deleted bucket, and 200 again once it is provisioned', async () => {
    const worker = await startWorker('inventory', { NATS_URL: server.url })
    try {
      const ready = async () => {
        const response = await fetch(`${worker.url}/ready`, { signal: AbortSignal.timeout(5_000) })
        return {
          status: response.status,
          body: (await response.json()) as { status: string; reason?: string },
        }
      }
      expect((await ready()).status).toBe(200)
      const stream = `KV_${BUCKETS.reservations}`
      await jsm.streams.delete(stream)
      const down = await waitFor(
        async () => {
          const r = await ready()
          return r.status === 503 ? r : undefined
        },
        { timeoutMs: 10_000, intervalMs: 200, message: '/ready to turn 503 after the bucket was deleted' },
      )
      expect(down.body.status).toBe('not_ready')
      expect(down.body.reason).toContain(stream)
      await provisionNats([server.url])
      await waitFor(async () => (await ready()).status === 200, {
        timeoutMs: 10_000,
        intervalMs: 200,
        message: '/ready to be 200 again once the bucket was provisioned',
      })
    } finally {
      await worker.handle.stop()
    }
  }, 60_000)

  it('at the edge: 503 without the ORDERS stream though NATS answers, 200 once it is back', async () => {
    const { checkReady } = createConnectPerRequestStore({
      // The edge opens WebSocket connections; the check is the same over TCP.
      open: () => connect(server.connectOptions()),
      logger: createConsoleLogger({ service: 'order-edge', level: 'silent' }),
      metrics: createLightMetrics('order-edge'),
      sealer: { seal: () => Promise.reject(new Error('not used')) },
      timeoutMs: 2_000,
    })
    expect(await checkReady()).toStrictEqual({ ok: true })
    await jsm.streams.delete(STREAMS.orders.name)
    expect(await checkReady()).toStrictEqual({ ok: false, reason: 'ORDERS unavailable' })
    await provisionNats([server.url])
    expect(await checkReady()).toStrictEqual({ ok: true })
  })
})
