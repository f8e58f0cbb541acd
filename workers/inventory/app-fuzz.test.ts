import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createTestVerifier, TEST_KEYS } from '../../shared/http/api-keys-fixture.ts'
import { createLogCapture, fuzzApp } from '../../shared/http/fuzz-fixture.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import { createApp } from './app.ts'
import { setStock } from './domain.ts'
import type { StockRecord } from './records.ts'

describe('inventory under generated requests', () => {
  it('never answers a 5xx nor logs an error for 10,000 requests', async () => {
    const logs = createLogCapture()
    const records = new Map<string, StockRecord>()
    const app = createApp({
      store: {
        getStock: (sku) => Promise.resolve(records.get(sku) ?? null),
        setStock: (sku, request) => {
          const decision = setStock(records.get(sku) ?? null, sku, request)
          if (decision.kind === 'ok') records.set(sku, decision.record)
          return Promise.resolve(decision)
        },
      },
      logger: createLogger({ service: 'inventory', level: 'debug', destination: logs.destination }),
      metrics: createMetrics('inventory'),
      checkReady: () => Promise.resolve({ ok: true }),
      verifier: await createTestVerifier(),
      limiter: createRateLimiter({ perSecond: 1_000_000, burst: 1_000_000 }),
    })
    // Valid stock settings; the fixture adds the invalid ones.
    const stock = fc.record({
      onHand: fc.integer({ min: 0, max: 1_000_000 }),
      priceCents: fc.integer({ min: 0, max: 1_000_000 }),
    })
    const { sent, statuses, missing } = await fuzzApp(
      (request) => app.fetch(request),
      {
        routes: [
          'GET /',
          'GET /health',
          'GET /ready',
          'GET /metrics',
          'GET /inventory/:sku',
          'PUT /inventory/:sku',
          'PUT /inventory/:sku',
        ],
        keys: Object.values(TEST_KEYS).map(({ key }) => `Bearer ${key}`),
        validParams: fc.stringMatching(/^[A-Z0-9][A-Z0-9-]{0,31}$/),
        validBodies: stock,
      },
      logs,
    )
    expect(sent).toBeGreaterThan(9_000)
    expect([...statuses.keys()].filter((s) => s >= 500)).toStrictEqual([])
    expect(missing([200, 201, 400, 401, 403, 404, 413]), JSON.stringify([...statuses])).toStrictEqual([])
  })
})
