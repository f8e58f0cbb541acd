import { describe, expect, it } from 'vitest'
import { bearer, createTestVerifier } from '../../shared/http/api-keys-fixture.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import { createConsoleLogger } from '../../shared/observability/console-logger.ts'
import { createLightMetrics } from '../../shared/observability/light-metrics.ts'
import { createApp } from './app.ts'
import { createConnectPerRequestStore } from './connect-per-request.ts'
import { UnavailableError } from './order-store.ts'

const logger = createConsoleLogger({ service: 'order-edge', level: 'silent' })
const unreachable = () => Promise.reject(new Error('connection refused'))

/** NATS is down in these cases: nothing gets as far as sealing. */
const unusedSealer = { seal: () => Promise.reject(new Error('not reached')) }

describe('createConnectPerRequestStore', () => {
  it('turns an unreachable NATS into UnavailableError for writes and reads', async () => {
    const { store } = createConnectPerRequestStore({
      sealer: unusedSealer,
      open: unreachable,
      logger,
      metrics: createLightMetrics('t'),
      timeoutMs: 500,
    })
    const request = { customer: { id: 'c' }, items: [{ sku: 'A', quantity: 1 }], paymentToken: 't' }
    await expect(store.placeOrder({ request, correlationId: 'c' })).rejects.toThrow(UnavailableError)
    await expect(store.getOrder('0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f')).rejects.toThrow(UnavailableError)
  })

  it('makes the runtime-neutral app answer 503 and not ready', async () => {
    const metrics = createLightMetrics('order-edge')
    const { store, checkReady } = createConnectPerRequestStore({
      sealer: unusedSealer,
      open: unreachable,
      logger,
      metrics,
      timeoutMs: 500,
    })
    const app = createApp({
      store,
      logger,
      metrics,
      checkReady,
      verifier: await createTestVerifier(),
      limiter: createRateLimiter({ perSecond: 10, burst: 10 }),
    })
    const res = await app.request('/orders', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...bearer('alice') },
      body: JSON.stringify({ customerId: 'c', items: [{ sku: 'A', quantity: 1 }], paymentToken: 't' }),
    })
    expect(res.status).toBe(503)
    expect(res.headers.get('Retry-After')).toBe('1')
    const ready = await app.request('/ready')
    expect(ready.status).toBe(503)
    expect(await ready.json()).toStrictEqual({
      status: 'not_ready',
      reason: 'NATS unreachable',
    })
    expect(await metrics.registry.metrics()).toContain(
      'http_requests_total{method="POST",route="/orders",status="503",service="order-edge"} 1',
    )
  })

  it('hands the close of a readiness probe to defer, also when the stream check fails', async () => {
    const deferred: Promise<unknown>[] = []
    let closed = 0
    const nc = { close: () => Promise.resolve(closed++), isClosed: () => false }
    const { checkReady } = createConnectPerRequestStore({
      sealer: unusedSealer,
      open: () => Promise.resolve(nc as never),
      logger,
      metrics: createLightMetrics('t'),
      timeoutMs: 500,
      defer: (p) => deferred.push(p),
    })
    // This connection answers no JetStream request: connected, but ORDERS is not there.
    expect(await checkReady()).toStrictEqual({ ok: false, reason: 'ORDERS unavailable' })
    expect(deferred).toHaveLength(1)
    await Promise.all(deferred)
    expect(closed).toBe(1)
  })
})
