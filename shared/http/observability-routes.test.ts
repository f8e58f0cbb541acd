import { describe, expect, it } from 'vitest'
import { createLogger } from '../observability/logger.ts'
import { createMetrics } from '../observability/metrics.ts'
import { swaggerUiAssets } from './swagger-ui-assets.ts'
import { createObservabilityApp } from './observability-app.ts'
import { createObservabilityRoutes, METRICS_FRESH_MS } from './observability-routes.ts'

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

describe('GET /metrics under a flood', () => {
  it('renders once for scrapes that come together, and again once that rendering is 100 ms old', async () => {
    const metrics = createMetrics('payment')
    let renders = 0
    const render = metrics.registry.metrics.bind(metrics.registry)
    metrics.registry.metrics = () => {
      renders++
      return render()
    }
    const routes = createObservabilityRoutes({ metrics, checkReady: () => Promise.resolve({ ok: true }) })
    const scrape = async () => {
      const res = await routes.request('/metrics')
      expect(res.status).toBe(200)
      return await res.text()
    }
    const bodies = await Promise.all(Array.from({ length: 50 }, scrape))
    expect(renders).toBe(1)
    expect(new Set(bodies).size).toBe(1)
    expect(bodies[0]).toContain('# TYPE http_requests_total counter')
    await new Promise((resolve) => setTimeout(resolve, METRICS_FRESH_MS + 20))
    await scrape()
    expect(renders).toBe(2)
  })
})
