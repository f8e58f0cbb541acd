import { describe, expect, it } from 'vitest'
import { bearer, createTestVerifier } from '../../shared/http/api-keys-fixture.ts'
import { setClientAddress } from '../../shared/http/client-address.ts'
import { endlessBody, streamed } from '../../shared/http/endless-body-fixture.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import { KvRecordError } from '../../shared/nats/kv-json.ts'
import { createApp } from './app.ts'
import { setStock } from './domain.ts'
import type { StockRecord } from './records.ts'

const verifier = await createTestVerifier()

function appWithMemory({ perSecond = 1_000, burst = 1_000, broken = new Set<string>() } = {}) {
  const records = new Map<string, StockRecord>()
  return createApp({
    store: {
      getStock: (sku) =>
        broken.has(sku)
          ? Promise.reject(new KvRecordError(`${sku} holds an invalid record`))
          : Promise.resolve(records.get(sku) ?? null),
      setStock: (sku, request) => {
        const decision = setStock(records.get(sku) ?? null, sku, request)
        if (decision.kind === 'ok') records.set(sku, decision.record)
        return Promise.resolve(decision)
      },
    },
    logger: createLogger({ service: 'inventory', level: 'silent' }),
    metrics: createMetrics('inventory'),
    checkReady: () => Promise.resolve({ ok: true }),
    verifier,
    limiter: createRateLimiter({ perSecond, burst }),
    maxBodyBytes: 2048,
  })
}

const put = (
  app: ReturnType<typeof appWithMemory>,
  sku: string,
  body: unknown,
  headers: Record<string, string> = bearer('ops'),
) =>
  app.request(`/inventory/${sku}`, {
    method: 'PUT',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...headers },
  })

describe('inventory HTTP', () => {
  it('creates with 201, updates with 200 and reads the stock view without a key', async () => {
    const app = appWithMemory()
    expect((await put(app, 'SKU-1', { onHand: 5, priceCents: 999 })).status).toBe(201)
    expect((await put(app, 'SKU-1', { onHand: 7, priceCents: 999 })).status).toBe(200)
    const res = await app.request('/inventory/SKU-1')
    expect(await res.json()).toStrictEqual({
      sku: 'SKU-1',
      onHand: 7,
      reserved: 0,
      available: 7,
      priceCents: 999,
    })
  })

  it.each([
    [{ onHand: -1, priceCents: 1 }],
    [{ onHand: 1.5, priceCents: 1 }],
    [{ onHand: 1 }],
    [{ onHand: 1, priceCents: 1, extra: true }],
  ])('rejects %j with 400', async (body) => {
    const res = await put(appWithMemory(), 'SKU-1', body)
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toBe('invalid_stock')
  })

  it.each(['[]', '[{"onHand":1,"priceCents":1}]', '"x"', 'null'])(
    'rejects the body %s, which is not an object, with 400',
    async (body) => {
      const res = await put(appWithMemory(), 'SKU-1', body)
      expect([res.status, await res.json()]).toStrictEqual([
        400,
        {
          error: 'invalid_stock',
          message: 'body: must be a JSON object',
          issues: [{ path: '', message: 'must be a JSON object' }],
        },
      ])
    },
  )

  it('answers 500 invalid_record, naming the repair, for a stock record that is not valid', async () => {
    const app = appWithMemory({ broken: new Set(['MUG-002']) })
    const res = await app.request('/inventory/MUG-002')
    expect(res.status).toBe(500)
    expect(await res.json()).toStrictEqual({
      error: 'invalid_record',
      message:
        'the stock record of MUG-002 is not a valid record; PUT /inventory/MUG-002 with an admin key and no If-Match replaces it',
    })
  })

  it('answers 404 for an unknown sku and 400 for a malformed one', async () => {
    const app = appWithMemory()
    expect((await app.request('/inventory/NOPE')).status).toBe(404)
    expect((await app.request('/inventory/bad%20sku')).status).toBe(400)
  })
})

describe('inventory HTTP security', () => {
  const stock = { onHand: 5, priceCents: 999 }

  it('answers PUT without a key 401 with a Bearer challenge and sets nothing', async () => {
    const app = appWithMemory()
    const res = await put(app, 'SKU-1', stock, {})
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe('Bearer realm="order-saga"')
    expect(await res.json()).toStrictEqual({
      error: 'unauthorized',
      message: 'send an API key as Authorization: Bearer <key>',
    })
    expect((await app.request('/inventory/SKU-1')).status).toBe(404)
  })

  it('answers PUT with an unknown key 401 invalid_token', async () => {
    const res = await put(appWithMemory(), 'SKU-1', stock, { Authorization: 'Bearer sk_guess' })
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe('Bearer realm="order-saga", error="invalid_token"')
    expect(((await res.json()) as { error: string }).error).toBe('unauthorized')
  })

  it.each([
    ['no key', {}, 401],
    ['an unknown key', { Authorization: 'Bearer sk_guess' }, 401],
    ['a client key', bearer('alice'), 403],
  ])('answers PUT with %s before reading a byte of the body', async (_name, headers, status) => {
    const body = endlessBody()
    const res = await appWithMemory().request(
      '/inventory/SKU-1',
      streamed('PUT', body.stream, { 'Content-Type': 'application/json', ...headers }),
    )
    expect(res.status).toBe(status)
    expect(body.reads()).toBe(0)
  })

  it('answers PUT with a client key 403 forbidden', async () => {
    const res = await put(appWithMemory(), 'SKU-1', stock, bearer('alice'))
    expect(res.status).toBe(403)
    expect(await res.json()).toStrictEqual({
      error: 'forbidden',
      message: 'this route needs a key with role admin',
    })
  })

  it('slows key guessing per client address and admin writes per key', async () => {
    const app = appWithMemory({ perSecond: 0.5, burst: 2 })
    const from = (address: string, headers: Record<string, string>) => {
      const request = new Request('http://inventory/inventory/SKU-1', {
        method: 'PUT',
        body: JSON.stringify(stock),
        headers: { 'Content-Type': 'application/json', ...headers },
      })
      setClientAddress(request, address)
      return app.fetch(request)
    }
    const guesses = []
    for (let i = 0; i < 3; i++)
      guesses.push((await from('203.0.113.7', { Authorization: `Bearer g${i}` })).status)
    const writes = []
    for (let i = 0; i < 3; i++) writes.push((await from('203.0.113.7', bearer('ops'))).status)
    // A valid key without the role is limited by its own bucket too: 403s are requests.
    const forbidden = []
    for (let i = 0; i < 3; i++) forbidden.push((await from('203.0.113.7', bearer('alice'))).status)
    const elsewhere = await from('198.51.100.1', { Authorization: 'Bearer g9' })
    const read = await app.request('/inventory/SKU-1')

    expect(guesses).toStrictEqual([401, 401, 429])
    expect(writes).toStrictEqual([201, 200, 429])
    expect(forbidden).toStrictEqual([403, 403, 429])
    expect(elsewhere.status).toBe(401)
    expect(read.status).toBe(200)
  })

  it('refuses a body over INVENTORY_MAX_BODY_BYTES with 413, declared or chunked', async () => {
    const app = appWithMemory()
    const big = JSON.stringify({ onHand: 1, priceCents: 1, pad: 'x'.repeat(4096) })
    const declared = await put(app, 'SKU-1', big, { ...bearer('ops'), 'Content-Length': String(big.length) })
    const chunked = await app.request('/inventory/SKU-1', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', ...bearer('ops') },
      body: new Blob([big]).stream(),
      duplex: 'half',
    } as RequestInit)
    for (const res of [declared, chunked]) {
      expect(res.status).toBe(413)
      expect(await res.json()).toStrictEqual({
        error: 'payload_too_large',
        message: 'the body must be at most 2048 bytes',
      })
    }
  })

  it('answers GET / with the service index', async () => {
    const res = await appWithMemory().request('/')
    expect(await res.json()).toStrictEqual({
      service: 'inventory',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      routes: [
        'GET /',
        'GET /health',
        'GET /ready',
        'GET /metrics',
        'GET /openapi.json',
        'GET /docs',
        'GET /docs/:asset',
        'GET /inventory/:sku',
        'PUT /inventory/:sku',
      ],
    })
  })
})
