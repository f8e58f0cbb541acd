import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { OrderStatus } from '../../schemas/order-status.ts'
import { createTestVerifier, TEST_KEYS } from '../../shared/http/api-keys-fixture.ts'
import { createLogCapture, fuzzApp } from '../../shared/http/fuzz-fixture.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import { createApp } from './app.ts'
import { UnavailableError, type OrderStore } from './order-store.ts'

/** Orders in memory; a customer id starting with `down` finds NATS down (the documented 503). */
function memoryStore(): OrderStore {
  const orders = new Map<string, OrderStatus>()
  return {
    placeOrder: ({ request, correlationId, owner }) => {
      if (request.customer.id.startsWith('down')) return Promise.reject(new UnavailableError('down'))
      const orderId = crypto.randomUUID()
      orders.set(orderId, {
        orderId,
        status: 'pending',
        ...(owner === undefined ? {} : { owner }),
        updatedAt: new Date().toISOString(),
        history: [],
      })
      return Promise.resolve({ kind: 'accepted', orderId, correlationId, replayed: false, status: 'pending' })
    },
    getOrder: (orderId, visible = () => true) => {
      const order = orders.get(orderId)
      return Promise.resolve(order !== undefined && visible(order) ? order : null)
    },
    requestCancellation: () => Promise.resolve(),
  }
}

describe('order intake under generated requests', () => {
  it('never answers a 5xx but its documented 503 nor logs an error for 10,000 requests', async () => {
    const logs = createLogCapture()
    let clock = 0
    const app = createApp({
      store: memoryStore(),
      logger: createLogger({ service: 'order', level: 'debug', destination: logs.destination }),
      metrics: createMetrics('order'),
      checkReady: () => Promise.resolve({ ok: true }),
      verifier: await createTestVerifier(),
      // Low enough that the generated traffic meets 429s, high enough that dozens of
      // valid orders get through (202) or find NATS down (503). Its clock moves
      // 5 ms per reading, not with the machine's speed: the same counts on any host.
      limiter: createRateLimiter({ perSecond: 50, burst: 50, now: () => (clock += 5) }),
    })
    // Valid orders (a `down-` customer finds NATS down); the fixture adds the invalid ones.
    const order = fc.record({
      customerId: fc.stringMatching(/^(down-)?[a-z0-9]{1,20}$/),
      items: fc.uniqueArray(
        fc.record({
          sku: fc.stringMatching(/^[A-Z0-9][A-Z0-9-]{0,31}$/),
          quantity: fc.integer({ min: 1, max: 1000 }),
        }),
        { minLength: 1, maxLength: 3, selector: (item) => item.sku },
      ),
      paymentToken: fc.constantFrom('tok_ok', 'tok_declined', 'tok_slow'),
    })
    const { sent, statuses, missing } = await fuzzApp(
      (request) => app.fetch(request),
      {
        routes: [
          'GET /',
          'GET /health',
          'GET /ready',
          'GET /metrics',
          'POST /orders',
          'POST /orders',
          'GET /orders/:orderId',
          'DELETE /orders/:orderId',
        ],
        keys: Object.values(TEST_KEYS).map(({ key }) => `Bearer ${key}`),
        validParams: fc.uuid(),
        validBodies: order,
      },
      logs,
      {
        allow: (status, body) => status === 503 && body.includes('"error":"unavailable"'),
      },
    )
    expect(sent).toBeGreaterThan(9_000)
    expect([...statuses.keys()].filter((s) => s >= 500 && s !== 503)).toStrictEqual([])
    expect(
      missing([202, 400, 401, 404, 413, 415, 429, 499, 503]),
      JSON.stringify([...statuses]),
    ).toStrictEqual([])
  })
})
