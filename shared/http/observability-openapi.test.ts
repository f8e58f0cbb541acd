import { describe, expect, it } from 'vitest'
import {
  createContract,
  documentedRoutes,
  openApiProblems,
  servedRoutes,
} from '../../test/support/openapi-contract.ts'
import { createLogger } from '../observability/logger.ts'
import { createMetrics } from '../observability/metrics.ts'
import type { OpenApiDocument } from './openapi.ts'
import { observabilityOpenApi } from './openapi-routes.ts'
import { swaggerUiAssets } from './swagger-ui-assets.ts'
import { createObservabilityApp, type ObservabilityAppDeps } from './observability-app.ts'

const MAX_BODY = 1024

function appWith(overrides: Partial<ObservabilityAppDeps> = {}) {
  return createObservabilityApp({
    docsAssets: swaggerUiAssets,
    service: 'payment',
    metrics: createMetrics('payment'),
    logger: createLogger({ service: 'payment', level: 'silent' }),
    checkReady: () => Promise.resolve({ ok: true }),
    maxBodyBytes: MAX_BODY,
    ...overrides,
  })
}

describe('the HTTP surface of payment and order-status against its OpenAPI document', () => {
  const app = appWith({ isAlive: () => true })
  const document = observabilityOpenApi({ service: 'payment', maxBodyBytes: MAX_BODY, liveness: true })
  const contract = createContract(document)
  const send = (path: string, init?: RequestInit, on = app) => contract.request(on, path, init)

  it('serves a valid OpenAPI 3.1 document at /openapi.json and the docs page over it', async () => {
    const served = (await (await send('/openapi.json')).json()) as OpenApiDocument
    expect(served).toStrictEqual(JSON.parse(JSON.stringify(document)))
    expect(await openApiProblems(served)).toStrictEqual([])
    expect(servedRoutes(app)).toStrictEqual(documentedRoutes(document))
    const page = await send('/docs')
    expect([page.status, page.headers.get('Content-Type')]).toStrictEqual([200, 'text/html; charset=UTF-8'])
    expect(await page.text()).toContain('/openapi.json')
    const style = await send('/docs/swagger-ui.css')
    expect([style.status, style.headers.get('Content-Type')]).toStrictEqual([200, 'text/css; charset=utf-8'])
    expect((await send('/docs/secrets.txt')).status).toBe(404)
  })

  it('documents /health 503 only where a liveness check can fail', async () => {
    const plain = observabilityOpenApi({ service: 'payment', maxBodyBytes: MAX_BODY, liveness: false })
    expect(Object.keys(plain.paths['/health']?.['get']?.responses ?? {})).toStrictEqual(['200', '413'])
    const served = (await (await appWith().request('/openapi.json')).json()) as OpenApiDocument
    expect(served).toStrictEqual(JSON.parse(JSON.stringify(plain)))
  })

  it('answers every documented status', async () => {
    for (const path of ['/', '/health', '/ready', '/metrics'])
      expect((await send(path)).status, path).toBe(200)
    const failing = appWith({
      isAlive: () => false,
      checkReady: () => Promise.resolve({ ok: false, reason: 'x' }),
    })
    expect((await send('/health', undefined, failing)).status).toBe(503)
    expect((await send('/ready', undefined, failing)).status).toBe(503)
    for (const path of Object.keys(document.paths)) {
      const init = { headers: { 'Content-Length': String(MAX_BODY + 1) } }
      expect((await send(path, init)).status, path).toBe(413)
    }
    expect(contract.uncovered()).toStrictEqual([])
  })
})
