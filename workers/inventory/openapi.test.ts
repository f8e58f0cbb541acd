import { TimeoutError } from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import { bearer, createTestVerifier } from '../../shared/http/api-keys-fixture.ts'
import { setClientAddress } from '../../shared/http/client-address.ts'
import type { OpenApiDocument } from '../../shared/http/openapi.ts'
import { DOCS_ASSETS } from '../../shared/http/openapi-routes.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { KvRecordError } from '../../shared/nats/kv-json.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import {
  createContract,
  exerciseBodyTimeout,
  documentedRoutes,
  openApiProblems,
  servedRoutes,
} from '../../test/support/openapi-contract.ts'
import { createApp, type InventoryAppDeps } from './app.ts'
import { setStock } from './domain.ts'
import { inventoryOpenApi } from './openapi.ts'
import type { StockRecord } from './records.ts'

const MAX_BODY = 2048
const verifier = await createTestVerifier()
const HELD: StockRecord = {
  sku: 'HELD-1',
  onHand: 10,
  priceCents: 500,
  sold: 0,
  holds: { 'order-1': { quantity: 4, unitPriceCents: 500 } },
}

function memoryStore(): InventoryAppDeps['store'] {
  const records = new Map<string, StockRecord>([[HELD.sku, HELD]])
  return {
    getStock: (sku) => Promise.resolve(records.get(sku) ?? null),
    setStock: (sku, request, ifMatch) => {
      const decision = setStock(records.get(sku) ?? null, sku, request, ifMatch)
      if (decision.kind === 'ok') records.set(sku, decision.record)
      return Promise.resolve(decision)
    },
  }
}

function appWith(overrides: Partial<InventoryAppDeps> = {}) {
  return createApp({
    store: memoryStore(),
    logger: createLogger({ service: 'inventory', level: 'silent' }),
    metrics: createMetrics('inventory'),
    checkReady: () => Promise.resolve({ ok: true }),
    verifier,
    limiter: createRateLimiter({ perSecond: 1_000, burst: 1_000 }),
    maxBodyBytes: MAX_BODY,
    ...overrides,
  })
}

const failingStore = (error: Error): InventoryAppDeps['store'] => ({
  getStock: () => Promise.reject(error),
  setStock: () => Promise.reject(error),
})
const put = (body: unknown, headers: Record<string, string> = bearer('ops')): RequestInit => ({
  method: 'PUT',
  body: typeof body === 'string' ? body : JSON.stringify(body),
  headers: { 'Content-Type': 'application/json', ...headers },
})
const stock = { onHand: 5, priceCents: 999 }

describe('the inventory service against its OpenAPI document', () => {
  const app = appWith()
  const document = inventoryOpenApi()
  const contract = createContract(document)
  const send = (path: string, init?: RequestInit, on = app) => contract.request(on, path, init)

  it('serves a valid OpenAPI 3.1 document at /openapi.json', async () => {
    const served = (await (await send('/openapi.json')).json()) as OpenApiDocument
    expect(served).toStrictEqual(JSON.parse(JSON.stringify(document)))
    expect(await openApiProblems(served)).toStrictEqual([])
  })

  it('documents exactly the routes the app serves', () => {
    expect(servedRoutes(app)).toStrictEqual(documentedRoutes(document))
  })

  it('answers GET /inventory/{sku} as documented', async () => {
    expect((await send('/inventory/HELD-1')).status).toBe(200)
    expect((await send('/inventory/bad sku')).status).toBe(400)
    expect((await send('/inventory/NONE-1')).status).toBe(404)
    expect(
      (await send('/inventory/HELD-1', {}, appWith({ store: failingStore(new Error('bug')) }))).status,
    ).toBe(500)
    const invalid = appWith({ store: failingStore(new KvRecordError('HELD-1 holds an invalid record')) })
    const answer = await send('/inventory/HELD-1', {}, invalid)
    expect(answer.status).toBe(500)
    expect(await answer.json()).toMatchObject({ error: 'invalid_record' })
    const down = appWith({ store: failingStore(new TimeoutError()) })
    expect((await send('/inventory/HELD-1', {}, down)).status).toBe(503)
  })

  it('answers PUT /inventory/{sku} as documented', async () => {
    expect((await send('/inventory/NEW-1', put(stock))).status).toBe(201)
    expect((await send('/inventory/NEW-1', put(stock))).status).toBe(200)
    expect((await send('/inventory/bad sku', put(stock))).status).toBe(400)
    expect((await send('/inventory/NEW-1', put('{'))).status).toBe(400)
    expect((await send('/inventory/NEW-1', put({ onHand: -1, priceCents: 1, extra: 1 }))).status).toBe(400)
    expect((await send('/inventory/NEW-1', put(stock, {}))).status).toBe(401)
    expect((await send('/inventory/NEW-1', put(stock, bearer('alice')))).status).toBe(403)
    expect((await send('/inventory/HELD-1', put({ onHand: 3, priceCents: 500 }))).status).toBe(409)
    // If-Match: the values read (the ETag of a GET) must still be the record's.
    const read = await send('/inventory/NEW-1')
    const etag = read.headers.get('ETag') ?? ''
    expect(etag).toBe('"5-999"')
    const ifMatch = (tag: string) =>
      put({ onHand: 5, priceCents: 1099 }, { ...bearer('ops'), 'If-Match': tag })
    const changed = await send('/inventory/NEW-1', ifMatch(etag))
    expect([changed.status, changed.headers.get('ETag')]).toStrictEqual([200, '"5-1099"'])
    const stale = await send('/inventory/NEW-1', ifMatch(etag))
    expect([stale.status, stale.headers.get('ETag')]).toStrictEqual([412, '"5-1099"'])
    expect(await stale.json()).toMatchObject({ error: 'precondition_failed' })
    expect((await send('/inventory/NEW-1', ifMatch('W/"5-1099"'))).status).toBe(412)
    expect((await send('/inventory/NEW-1', ifMatch('"1-1", "5-1099"'))).status).toBe(200)
    expect((await send('/inventory/NEW-1', ifMatch('*'))).status).toBe(200)
    for (const bad of ['5-1099', '', '"5-1099', '"a", b'])
      expect([bad, (await send('/inventory/NEW-1', ifMatch(bad))).status]).toStrictEqual([bad, 400])
    const absent = await send('/inventory/NONE-2', ifMatch('*'))
    expect([absent.status, absent.headers.get('ETag')]).toStrictEqual([412, null])
    // The 412's ETag is in the document (checked above when sent), and not required.
    const put412 = inventoryOpenApi().paths['/inventory/{sku}']?.['put'] as {
      responses: Record<string, { headers?: Record<string, { required?: boolean }> }>
    }
    expect(put412.responses['412']?.headers?.['ETag']?.required).toBe(false)
    const plain = put(stock, { ...bearer('ops'), 'Content-Type': 'text/plain' })
    expect((await send('/inventory/NEW-1', plain)).status).toBe(415)
    expect((await send('/inventory/NEW-1', put('x'.repeat(MAX_BODY + 1)))).status).toBe(413)
    const broken = appWith({ store: failingStore(new Error('bug')) })
    expect((await send('/inventory/NEW-1', put(stock), broken)).status).toBe(500)
    const down = appWith({ store: failingStore(new TimeoutError()) })
    const unsure = await send('/inventory/NEW-1', put(stock), down)
    expect([unsure.status, await unsure.json()]).toStrictEqual([
      503,
      {
        error: 'unavailable',
        message:
          'the stock store is not answering, and this write may have been applied all the same: GET /inventory/NEW-1 before writing again',
      },
    ])
    // Refused at the bucket's cap: nothing was written, later rather than in a second.
    const full = appWith({
      store: failingStore(Object.assign(new Error('maximum bytes exceeded'), { code: 10077 })),
    })
    const refused = await send('/inventory/NEW-1', put(stock), full)
    expect([refused.status, refused.headers.get('Retry-After'), await refused.json()]).toStrictEqual([
      503,
      '30',
      {
        error: 'unavailable',
        message: 'the stock store is full (KV_STOCK_MAX_BYTES): nothing was written; retry later',
      },
    ])
    // A record written around the service, with If-Match (without, the PUT replaces it).
    const invalid = appWith({ store: failingStore(new KvRecordError('NEW-1 holds an invalid record')) })
    const withTag = await send('/inventory/NEW-1', put(stock, { ...bearer('ops'), 'If-Match': '*' }), invalid)
    expect([withTag.status, await withTag.json()]).toMatchObject([500, { error: 'invalid_record' }])
  })

  it("answers 429 when the admin key's writes or an address's failures are used up", async () => {
    const limited = appWith({ limiter: createRateLimiter({ perSecond: 0.001, burst: 1 }) })
    const statuses = []
    for (const _ of [1, 2]) statuses.push((await send('/inventory/NEW-1', put(stock), limited)).status)
    expect(statuses).toStrictEqual([201, 429])
    const failures = []
    for (const _ of [1, 2]) {
      const request = new Request('http://localhost/inventory/NEW-1', put(stock, {}))
      setClientAddress(request, '192.0.2.1')
      const response = await limited.request(request)
      await contract.check(request, response)
      failures.push(response.status)
    }
    expect(failures).toStrictEqual([401, 429])
  })

  it('answers the shared routes as documented, and 413 on every route', async () => {
    for (const path of ['/', '/health', '/ready', '/metrics', '/docs'])
      expect((await send(path)).status, path).toBe(200)
    const notReady = appWith({ checkReady: () => Promise.resolve({ ok: false, reason: 'NATS down' }) })
    expect((await send('/ready', undefined, notReady)).status).toBe(503)
    for (const asset of DOCS_ASSETS) expect((await send(`/docs/${asset}`)).status).toBe(200)
    expect((await send('/docs/index.html')).status).toBe(404)
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of Object.keys(item)) {
        const concrete = path.replace('{sku}', 'SKU-1').replace('{asset}', 'swagger-ui.css')
        const init = { method, headers: { ...bearer('ops'), 'Content-Length': String(MAX_BODY + 1) } }
        expect((await send(concrete, init)).status, `${method} ${path}`).toBe(413)
      }
    }
  })

  it('answers 408 to a body that stops arriving, on every route that lists it', async () => {
    const statuses = await exerciseBodyTimeout(contract, app, document, {
      concrete: (path) => path.replace('{sku}', 'NEW-408'),
      headers: { 'Content-Type': 'application/json', ...bearer('ops') },
    })
    expect(statuses).toStrictEqual({ 'PUT /inventory/{sku}': 408 })
  })

  it('exercised every documented status of every route', () => {
    expect(contract.uncovered()).toStrictEqual([])
  })
})
