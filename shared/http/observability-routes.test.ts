import { describe, expect, it } from 'vitest'
import { createLogger } from '../observability/logger.ts'
import { createMetrics } from '../observability/metrics.ts'
import { swaggerUiAssets } from './swagger-ui-assets.ts'
import { createObservabilityApp } from './observability-app.ts'

function app(service: string) {
  return createObservabilityApp({
    docsAssets: swaggerUiAssets,
    service,
    metrics: createMetrics(service),
    logger: createLogger({ service, level: 'silent' }),
    checkReady: () => Promise.resolve({ ok: true }),
    maxBodyBytes: 1024,
  })
}

describe('the HTTP surface of payment and order-status', () => {
  it.each(['payment', 'order-status'])('answers GET / on %s with its index', async (service) => {
    const res = await app(service).request('/')
    expect([res.status, await res.json()]).toStrictEqual([
      200,
      {
        service,
        version: expect.stringMatching(/^\d+\.\d+\.\d+/),
        routes: [
          'GET /',
          'GET /health',
          'GET /ready',
          'GET /metrics',
          'GET /openapi.json',
          'GET /docs',
          'GET /docs/:asset',
        ],
      },
    ])
  })

  it('answers an unknown route 404 and a body over the limit 413, as every service does', async () => {
    const missing = await app('payment').request('/charges', { method: 'POST' })
    const big = await app('payment').request('/health', { method: 'POST', body: 'x'.repeat(2048) })
    expect([missing.status, await missing.json()]).toStrictEqual([
      404,
      { error: 'not_found', message: 'no route POST /charges' },
    ])
    expect([big.status, await big.json()]).toStrictEqual([
      413,
      { error: 'payload_too_large', message: 'the body must be at most 1024 bytes' },
    ])
  })
})
