import { describe, expect, it } from 'vitest'
import type { OrderStatus } from '../../schemas/order-status.ts'
import { createApiDocsRoutes } from '../../shared/http/api-docs.ts'
import { bearer, createTestVerifier } from '../../shared/http/api-keys-fixture.ts'
import { setClientAddress } from '../../shared/http/client-address.ts'
import type { OpenApiDocument } from '../../shared/http/openapi.ts'
import { DOCS_ASSETS } from '../../shared/http/openapi-routes.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import { swaggerUiAssets } from '../../shared/http/swagger-ui-assets.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import {
  createContract,
  exerciseBodyTimeout,
  documentedRoutes,
  openApiProblems,
  servedRoutes,
} from '../../test/support/openapi-contract.ts'
import { createApp, type AppDeps } from './app.ts'
import { orderOpenApi } from './openapi.ts'
import { UnavailableError, type OrderStore } from './order-store.ts'

const ORDER_ID = '0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f'
const MAX_BODY = 4096
const verifier = await createTestVerifier()
const validOrder = { customerId: 'c-1', items: [{ sku: 'SKU-1', quantity: 2 }], paymentToken: 'tok_ok' }
const at = '2030-01-02T03:04:05.000Z'

function record(overrides: Partial<OrderStatus> = {}): OrderStatus {
  return {
    orderId: ORDER_ID,
    status: 'confirmed',
    customerId: 'c-1',
    items: [{ sku: 'SKU-1', quantity: 2 }],
    amountCents: 2500,
    chargeId: 'ch_1',
    charges: [{ chargeId: 'ch_1', amountCents: 2500, at }],
    correlationId: 'corr-1',
    owner: 'alice',
    createdAt: at,
    updatedAt: at,
    history: [{ event: 'orders.created', status: 'pending', at }],
    ...overrides,
  }
}

function store(overrides: Partial<OrderStore> = {}): OrderStore {
  return {
    placeOrder: (input) =>
      Promise.resolve({
        kind: 'accepted',
        orderId: ORDER_ID,
        correlationId: input.correlationId,
        replayed: false,
        status: 'pending',
      }),
    getOrder: () => Promise.resolve(record()),
    requestCancellation: () => Promise.resolve(),
    ...overrides,
  }
}

function appWith({ docs = true, ...overrides }: Partial<AppDeps> & { docs?: boolean } = {}) {
  return createApp({
    store: store(),
    logger: createLogger({ service: 'order', level: 'silent' }),
    metrics: createMetrics('order'),
    checkReady: () => Promise.resolve({ ok: true }),
    verifier,
    limiter: createRateLimiter({ perSecond: 1_000, burst: 1_000 }),
    maxBodyBytes: MAX_BODY,
    ...(docs ? { apiDocs: createApiDocsRoutes({ document: orderOpenApi, assets: swaggerUiAssets }) } : {}),
    ...overrides,
  })
}

const failing = (error: Error) => () => Promise.reject(error)
const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  body: typeof body === 'string' ? body : JSON.stringify(body),
  headers: { 'Content-Type': 'application/json', ...bearer('alice'), ...headers },
})
const keyed: RequestInit = { headers: bearer('alice') }
const cancel: RequestInit = { method: 'POST', headers: bearer('alice') }

describe('the order intake against its OpenAPI document', () => {
  const app = appWith()
  const document = orderOpenApi()
  const contract = createContract(document)
  const send = (path: string, init?: RequestInit, on = app) => contract.request(on, path, init)

  it('serves a valid OpenAPI 3.1 document at /openapi.json', async () => {
    const served = (await (await send('/openapi.json')).json()) as OpenApiDocument
    expect(served).toStrictEqual(JSON.parse(JSON.stringify(document)))
    expect(await openApiProblems(served)).toStrictEqual([])
  })

  it('serves neither /openapi.json nor /docs where it is not given them (the Worker)', async () => {
    const edge = appWith({ docs: false })
    expect((await edge.request('/openapi.json')).status).toBe(404)
    expect((await edge.request('/docs')).status).toBe(404)
  })

  it('documents exactly the routes the app serves', () => {
    expect(servedRoutes(app)).toStrictEqual(documentedRoutes(document))
  })

  it('answers POST /orders as documented', async () => {
    expect((await send('/orders', json(validOrder))).status).toBe(202)
    const v2 = {
      customer: { id: 'c-2', email: 'ada@example.com' },
      currency: 'USD',
      items: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 1250 }],
      paymentToken: 'tok_ok',
    }
    expect((await send('/orders', json(v2))).status).toBe(202)
    expect((await send('/orders', json({ ...v2, currency: 'EUR' }))).status).toBe(422)
    expect((await send('/orders', json({ ...validOrder, items: [] }))).status).toBe(400)
    expect((await send('/orders', json('{'))).status).toBe(400)
    expect((await send('/orders', json(validOrder, { 'Idempotency-Key': 'a b' }))).status).toBe(400)
    expect((await send('/orders', { method: 'POST', body: '{}' })).status).toBe(401)
    expect((await send('/orders', json('x'.repeat(MAX_BODY + 1)))).status).toBe(413)
    expect((await send('/orders', json(validOrder, { 'Content-Type': 'text/plain' }))).status).toBe(415)
    const reused = appWith({
      store: store({ placeOrder: () => Promise.resolve({ kind: 'idempotency_key_reused' }) }),
    })
    expect((await send('/orders', json(validOrder, { 'Idempotency-Key': 'k-1' }), reused)).status).toBe(422)
    const broken = appWith({ store: store({ placeOrder: failing(new Error('bug')) }) })
    expect((await send('/orders', json(validOrder), broken)).status).toBe(500)
    const down = appWith({ store: store({ placeOrder: failing(new UnavailableError('no NATS')) }) })
    expect((await send('/orders', json(validOrder), down)).status).toBe(503)
  })

  it('answers GET /orders/{orderId} and POST /orders/{orderId}/cancel as documented', async () => {
    const path = `/orders/${ORDER_ID}`
    expect((await send(path, keyed)).status).toBe(200)
    expect((await send(`${path}/cancel`, cancel)).status).toBe(202)
    const cancelled = appWith({
      store: store({
        getOrder: () => Promise.resolve(record({ status: 'cancelled', reason: 'customer_request' })),
      }),
    })
    expect((await send(`${path}/cancel`, cancel, cancelled)).status).toBe(200)
    const none = appWith({ store: store({ getOrder: () => Promise.resolve(null) }) })
    const broken = appWith({ store: store({ getOrder: failing(new Error('bug')) }) })
    const down = appWith({ store: store({ getOrder: failing(new UnavailableError('no NATS')) }) })
    for (const [route, init] of [
      [path, keyed],
      [`${path}/cancel`, cancel],
    ] as const) {
      const bad = route.replace(ORDER_ID, 'not-a-uuid')
      expect((await send(bad, init)).status).toBe(400)
      expect((await send(route, { method: init.method ?? 'GET' })).status).toBe(401)
      expect((await send(route, init, none)).status).toBe(404)
      expect((await send(route, { ...init, headers: { ...bearer('bob') } }, none)).status).toBe(404)
      expect((await send(route, init, broken)).status).toBe(500)
      expect((await send(route, init, down)).status).toBe(503)
    }
  })

  it('answers 429 when a key or an address uses up its rate', async () => {
    const limited = appWith({ limiter: createRateLimiter({ perSecond: 0.001, burst: 1 }) })
    const routes = [
      ['/orders', json(validOrder)],
      [`/orders/${ORDER_ID}`, keyed],
      [`/orders/${ORDER_ID}/cancel`, cancel],
    ] as const
    for (const [index, [path, init]] of routes.entries()) {
      const statuses = []
      for (const _ of [1, 2]) statuses.push((await send(path, init, limited)).status)
      expect(statuses).toStrictEqual([expect.any(Number), 429])
      // Failed attempts (no key) from one address: the second is over its rate.
      const address = `192.0.2.${index + 1}`
      const failures = []
      for (const _ of [1, 2]) {
        const request = new Request(`http://localhost${path}`, { method: init.method ?? 'GET' })
        setClientAddress(request, address)
        const response = await limited.request(request)
        await contract.check(request, response)
        failures.push(response.status)
      }
      expect(failures).toStrictEqual([401, 429])
    }
  })

  it('answers the shared routes as documented, and 413 on every route', async () => {
    expect((await send('/')).status).toBe(200)
    expect((await send('/health')).status).toBe(200)
    expect((await send('/ready')).status).toBe(200)
    const notReady = appWith({ checkReady: () => Promise.resolve({ ok: false, reason: 'NATS down' }) })
    expect((await send('/ready', undefined, notReady)).status).toBe(503)
    expect((await send('/metrics')).status).toBe(200)
    expect((await send('/docs')).status).toBe(200)
    for (const asset of DOCS_ASSETS) expect((await send(`/docs/${asset}`)).status).toBe(200)
    expect((await send('/docs/index.html')).status).toBe(404)
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of Object.keys(item)) {
        const concrete = path.replace('{orderId}', ORDER_ID).replace('{asset}', 'swagger-ui.css')
        const init = { method, headers: { ...bearer('alice'), 'Content-Length': String(MAX_BODY + 1) } }
        expect((await send(concrete, init)).status, `${method} ${path}`).toBe(413)
      }
    }
  })

  it('answers 408 to a body that stops arriving, on every route that lists it', async () => {
    const statuses = await exerciseBodyTimeout(contract, app, document, {
      concrete: (path) => path.replace('{orderId}', ORDER_ID),
      headers: { 'Content-Type': 'application/json', ...bearer('alice') },
    })
    expect(statuses).toStrictEqual({ 'POST /orders': 408, 'POST /orders/{orderId}/cancel': 408 })
  })

  it('exercised every documented status of every route', () => {
    expect(contract.uncovered()).toStrictEqual([])
  })
})
