import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createLogger } from '../observability/logger.ts'
import { createMetrics } from '../observability/metrics.ts'
import { createLogCapture, fuzzApp } from './fuzz-fixture.ts'
import { swaggerUiAssets } from './swagger-ui-assets.ts'
import { createObservabilityApp } from './observability-app.ts'

describe('payment and order-status HTTP under generated requests', () => {
  it('never answers a 5xx nor logs an error for 10,000 requests', async () => {
    const logs = createLogCapture()
    const app = createObservabilityApp({
      docsAssets: swaggerUiAssets,
      service: 'payment',
      metrics: createMetrics('payment'),
      logger: createLogger({ service: 'payment', level: 'debug', destination: logs.destination }),
      checkReady: () => Promise.resolve({ ok: true }),
    })
    const { sent, statuses, missing } = await fuzzApp(
      (request) => app.fetch(request),
      {
        routes: ['GET /', 'GET /health', 'GET /ready', 'GET /metrics', 'POST /charges'],
        keys: ['Bearer anything'],
        validBodies: fc.json(),
      },
      logs,
    )
    expect(sent).toBeGreaterThan(9_000)
    expect([...statuses.keys()].filter((s) => s >= 500)).toStrictEqual([])
    expect(missing([200, 404, 413]), JSON.stringify([...statuses])).toStrictEqual([])
  })
})
