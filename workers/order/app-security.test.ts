import { describe, expect, it } from 'vitest'
import type { OrderStatus } from '../../schemas/order-status.ts'
import { bearer, createTestVerifier } from '../../shared/http/api-keys-fixture.ts'
import {
  createApiKeyVerifier,
  parseApiKeys,
  sha256,
  toHex,
  type ApiKeyVerifier,
} from '../../shared/http/api-keys.ts'
import { setClientAddress } from '../../shared/http/client-address.ts'
import { DISCARD_MAX_BYTES } from '../../shared/http/body-limit.ts'
import { endlessBody, streamed } from '../../shared/http/endless-body-fixture.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import { createApp } from './app.ts'
import type { CancelOrderInput, OrderStore, PlaceOrderInput, PlaceOrderResult } from './order-store.ts'

const ORDER_ID = '0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f'
const validOrder = { customerId: 'c-1', items: [{ sku: 'SKU-1', quantity: 2 }], paymentToken: 'tok_ok' }
const testVerifier = await createTestVerifier()

function record(owner?: string): OrderStatus {
  return {
    orderId: ORDER_ID,
    ...(owner === undefined ? {} : { owner }),
    status: 'confirmed',
    updatedAt: '2026-01-01T00:00:00.000Z',
    // Projected from its orders.created (without one, the record awaits its creation: app.test.ts).
    history: [{ event: 'orders.created', status: 'pending', at: '2026-01-01T00:00:00.000Z' }],
  }
}

interface Options {
  order?: OrderStatus | null
  placed?: Partial<Extract<PlaceOrderResult, { kind: 'accepted' }>>
  perSecond?: number
  burst?: number
  maxBodyBytes?: number
  verifier?: ApiKeyVerifier
}

function setup({
  order = null,
  placed = {},
  perSecond = 1_000,
  burst = 1_000,
  maxBodyBytes,
  verifier = testVerifier,
}: Options = {}) {
  const calls: PlaceOrderInput[] = []
  const cancels: CancelOrderInput[] = []
  const lines: string[] = []
  const store: OrderStore = {
    placeOrder: (input) => {
      calls.push(input)
      return Promise.resolve({
        kind: 'accepted',
        orderId: ORDER_ID,
        correlationId: input.correlationId,
        replayed: false,
        status: 'pending',
        ...placed,
      })
    },
    // As the store does: a record the caller may not see is answered as absent.
    getOrder: (_id, visible = () => true) => Promise.resolve(order !== null && visible(order) ? order : null),
    requestCancellation: (input) => {
      cancels.push(input)
      return Promise.resolve()
    },
  }
  const metrics = createMetrics('order')
  const app = createApp({
    store,
    logger: createLogger({ service: 'order', level: 'debug', destination: { write: (l) => lines.push(l) } }),
    metrics,
    checkReady: () => Promise.resolve({ ok: true }),
    verifier,
    limiter: createRateLimiter({ perSecond, burst }),
    ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }),
  })
  const levels = () => lines.map((l) => (JSON.parse(l) as { level: string }).level)
  return { app, calls, cancels, metrics, levels }
}

const post = (app: ReturnType<typeof setup>['app'], headers: Record<string, string>) =>
  app.request('/orders', {
    method: 'POST',
    body: JSON.stringify(validOrder),
    headers: { 'Content-Type': 'application/json', ...headers },
  })

describe('order intake authentication', () => {
  it.each([
    ['POST', '/orders'],
    ['GET', `/orders/${ORDER_ID}`],
    ['POST', `/orders/${ORDER_ID}/cancel`],
  ])('answers %s %s without a key 401 with a Bearer challenge', async (method, path) => {
    const { app, calls } = setup({ order: record('alice') })
    const res = await app.request(path, { method, headers: { 'Content-Type': 'application/json' } })
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe('Bearer realm="order-saga"')
    expect(await res.json()).toStrictEqual({
      error: 'unauthorized',
      message: 'send an API key as Authorization: Bearer <key>',
    })
    expect(calls).toStrictEqual([])
  })

  it.each([
    ['an unknown key', 'Bearer sk_client_mallory'],
    ['a key in another case', 'Bearer SK_CLIENT_ALICE_0123456789'],
    ['a key with a suffix', 'Bearer sk_client_alice_0123456789x'],
    ['the digest itself', 'Bearer 0000000000000000000000000000000000000000000000000000000000000000'],
  ])('answers %s 401 invalid_token', async (_name, authorization) => {
    const { app, calls } = setup()
    const res = await post(app, { Authorization: authorization })
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toBe('Bearer realm="order-saga", error="invalid_token"')
    expect(((await res.json()) as { error: string }).error).toBe('unauthorized')
    expect(calls).toStrictEqual([])
  })

  it('takes a client or an admin key and records its id as the owner', async () => {
    const { app, calls } = setup()
    expect((await post(app, bearer('alice'))).status).toBe(202)
    expect((await post(app, { Authorization: `bearer  ${'sk_admin_ops_0123456789'}` })).status).toBe(202)
    expect(calls.map((c) => c.owner)).toStrictEqual(['alice', 'ops'])
  })

  it('answers an idempotent replay with the status the order has reached', async () => {
    const { app } = setup({ placed: { replayed: true, status: 'confirmed' } })
    const res = await post(app, { ...bearer('alice'), 'Idempotency-Key': 'k-1' })
    expect(res.status).toBe(202)
    expect(await res.json()).toMatchObject({ orderId: ORDER_ID, status: 'confirmed' })
  })
})

describe('GET /orders/{id} by owner', () => {
  const unknown = { error: 'not_found', message: `no order ${ORDER_ID}` }
  const get = (app: ReturnType<typeof setup>['app'], who: 'alice' | 'bob' | 'ops') =>
    app.request(`/orders/${ORDER_ID}`, { headers: bearer(who) })

  it('shows the order to its owner and to an admin key', async () => {
    const { app } = setup({ order: record('alice') })
    for (const who of ['alice', 'ops'] as const) {
      const res = await get(app, who)
      expect([res.status, await res.json()]).toStrictEqual([200, record('alice')])
    }
  })

  it("answers another client's order 404 exactly like an unknown one", async () => {
    const other = await get(setup({ order: record('alice') }).app, 'bob')
    const missing = await get(setup({ order: null }).app, 'bob')
    expect([other.status, await other.json()]).toStrictEqual([404, unknown])
    expect([missing.status, await missing.json()]).toStrictEqual([404, unknown])
  })

  it('shows an order without an owner (placed before owners) to admin keys only', async () => {
    const { app } = setup({ order: record() })
    expect((await get(app, 'alice')).status).toBe(404)
    expect((await get(app, 'ops')).status).toBe(200)
  })
})

describe('POST /orders/{id}/cancel', () => {
  const cancel = (app: ReturnType<typeof setup>['app'], who: 'alice' | 'bob' | 'ops', id = ORDER_ID) =>
    app.request(`/orders/${id}/cancel`, { method: 'POST', headers: bearer(who) })

  it('asks for the cancellation of its own order (and an admin for any): 202, twice alike', async () => {
    const { app, cancels } = setup({ order: record('alice') })
    for (const who of ['alice', 'alice', 'ops'] as const) {
      const res = await cancel(app, who)
      expect(res.status).toBe(202)
      expect(res.headers.get('Location')).toBe(`/orders/${ORDER_ID}`)
      expect(await res.json()).toMatchObject({
        orderId: ORDER_ID,
        status: 'confirmed',
        cancellation: 'requested',
      })
    }
    expect(cancels.map((c) => [c.orderId, c.requestedBy])).toStrictEqual([
      [ORDER_ID, 'alice'],
      [ORDER_ID, 'alice'],
      [ORDER_ID, 'ops'],
    ])
  })

  it("asks in the order's lane: its record's priority, standard when the record has none", async () => {
    const lanes = []
    for (const priority of ['express', 'standard', undefined] as const) {
      const { app, cancels } = setup({
        order: { ...record('alice'), ...(priority === undefined ? {} : { priority }) },
      })
      expect((await cancel(app, 'alice')).status).toBe(202)
      lanes.push(...cancels.map((c) => c.priority))
    }
    expect(lanes).toStrictEqual(['express', 'standard', 'standard'])
  })

  it("answers another client's order 404 like an unknown one, and publishes nothing", async () => {
    const { app, cancels } = setup({ order: record('alice') })
    expect((await cancel(app, 'bob')).status).toBe(404)
    expect((await cancel(setup({ order: null }).app, 'alice')).status).toBe(404)
    expect(cancels).toStrictEqual([])
  })

  it('answers an order already cancelled 200 with its record, publishing nothing', async () => {
    const cancelled: OrderStatus = { ...record('alice'), status: 'cancelled', reason: 'customer_request' }
    const { app, cancels } = setup({ order: cancelled })
    const res = await cancel(app, 'alice')
    expect([res.status, await res.json()]).toStrictEqual([200, cancelled])
    expect(cancels).toStrictEqual([])
  })

  it('answers a malformed order id 400', async () => {
    const res = await cancel(setup().app, 'alice', 'not-a-uuid')
    expect([res.status, ((await res.json()) as { error: string }).error]).toStrictEqual([
      400,
      'invalid_order_id',
    ])
  })
})

describe('API key rotation', () => {
  it("keeps the id: the old and the new key both read the client's orders and own its keys", async () => {
    const setting = [
      `alice:client:${toHex(await sha256('sk_alice_old'))}`,
      `alice:client:${toHex(await sha256('sk_alice_new'))}`,
    ].join(',')
    const parsed = parseApiKeys(setting)
    if (!parsed.ok) throw new Error(parsed.problems.join('; '))
    const { app } = setup({ order: record('alice'), verifier: createApiKeyVerifier(parsed.keys) })
    const read = async (key: string) =>
      (await app.request(`/orders/${ORDER_ID}`, { headers: { Authorization: `Bearer ${key}` } })).status
    const { app: intake, calls } = setup({ verifier: createApiKeyVerifier(parsed.keys) })
    for (const key of ['sk_alice_old', 'sk_alice_new'])
      await post(intake, { Authorization: `Bearer ${key}`, 'Idempotency-Key': 'k-1' })

    expect([await read('sk_alice_old'), await read('sk_alice_new')]).toStrictEqual([200, 200])
    // The store matches an Idempotency-Key by owner: a retry with the new key replays.
    expect(calls.map(({ owner, idempotencyKey }) => ({ owner, idempotencyKey }))).toStrictEqual([
      { owner: 'alice', idempotencyKey: 'k-1' },
      { owner: 'alice', idempotencyKey: 'k-1' },
    ])
  })
})

describe('order intake rate limits', () => {
  it('answers 429 with Retry-After once a key has used its burst, other keys unaffected', async () => {
    const { app, calls } = setup({ perSecond: 0.5, burst: 2 })
    const statuses = [(await post(app, bearer('alice'))).status, (await post(app, bearer('alice'))).status]
    const limited = await post(app, bearer('alice'))
    const bob = await post(app, bearer('bob'))

    expect(statuses).toStrictEqual([202, 202])
    expect(limited.status).toBe(429)
    expect(limited.headers.get('Retry-After')).toBe('2')
    expect(await limited.json()).toStrictEqual({
      error: 'rate_limited',
      message: 'too many requests; retry in 2 s',
    })
    expect(bob.status).toBe(202)
    expect(calls).toHaveLength(3)
  })

  it('slows key guessing per client address, yet lets valid keys through that address', async () => {
    // Behind a NAT or proxy every client shares one address: anybody's bad
    // requests must not turn the others' valid keys into 429s.
    const { app, calls } = setup({ perSecond: 1, burst: 2 })
    const from = (address: string, headers: Record<string, string>) => {
      const request = new Request('http://intake/orders', {
        method: 'POST',
        body: JSON.stringify(validOrder),
        headers: { 'Content-Type': 'application/json', ...headers },
      })
      setClientAddress(request, address)
      return app.fetch(request)
    }
    const guesses = []
    for (let i = 0; i < 3; i++)
      guesses.push((await from('203.0.113.7', { Authorization: `Bearer g${i}` })).status)
    const alice = await from('203.0.113.7', bearer('alice'))
    const ops = await from('203.0.113.7', bearer('ops'))
    const keyless = await from('203.0.113.7', {})
    const guessAfter = await from('203.0.113.7', { Authorization: 'Bearer g3' })
    const elsewhere = await from('198.51.100.1', { Authorization: 'Bearer g9' })

    expect(guesses).toStrictEqual([401, 401, 429])
    expect([alice.status, ops.status]).toStrictEqual([202, 202])
    expect([keyless.status, guessAfter.status]).toStrictEqual([429, 429])
    expect(Number(guessAfter.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1)
    expect(elsewhere.status).toBe(401)
    expect(calls.map((c) => c.owner)).toStrictEqual(['alice', 'ops'])
  })

  it('limits a valid key by its own bucket only, wherever it comes from', async () => {
    const { app } = setup({ perSecond: 0.5, burst: 2 })
    const from = (address: string) => {
      const request = new Request('http://intake/orders', {
        method: 'POST',
        body: JSON.stringify(validOrder),
        headers: { 'Content-Type': 'application/json', ...bearer('alice') },
      })
      setClientAddress(request, address)
      return app.fetch(request)
    }
    const statuses = []
    for (const address of ['203.0.113.7', '198.51.100.1', '192.0.2.1'])
      statuses.push((await from(address)).status)
    expect(statuses).toStrictEqual([202, 202, 429])
  })
})

describe('order intake limits and errors', () => {
  it('answers 413 on any route, a declared length before authentication, chunked on open routes', async () => {
    const { app } = setup({ maxBodyBytes: 1024 })
    const big = 'x'.repeat(4096)
    const declared = await app.request('/orders', {
      method: 'POST',
      body: big,
      headers: { 'Content-Type': 'application/json', 'Content-Length': '4096', ...bearer('alice') },
    })
    const chunked = await app.request('/', {
      method: 'POST',
      body: new Blob([big]).stream(),
      duplex: 'half',
    } as RequestInit)
    for (const res of [declared, chunked]) {
      expect(res.status).toBe(413)
      expect(await res.json()).toStrictEqual({
        error: 'payload_too_large',
        message: 'the body must be at most 1024 bytes',
      })
    }
  })

  it.each([
    ['no key', {}],
    ['an unknown key', { Authorization: 'Bearer sk_guess' }],
  ])('answers %s 401 before reading a byte of the body', async (_name, headers) => {
    const { app, calls } = setup({ maxBodyBytes: 1024 })
    const body = endlessBody()
    const res = await app.request(
      '/orders',
      streamed('POST', body.stream, { 'Content-Type': 'application/json', ...headers }),
    )
    expect(res.status).toBe(401)
    expect(body.reads()).toBe(0)
    expect(calls).toStrictEqual([])
  })

  it('reads the body once the key is good: a chunked body past the limit is 413, read no further than a bound', async () => {
    const { app } = setup({ maxBodyBytes: 1024 })
    const body = endlessBody()
    const res = await app.request(
      '/orders',
      streamed('POST', body.stream, { 'Content-Type': 'application/json', ...bearer('alice') }),
    )
    expect(res.status).toBe(413)
    // Two 1 KiB chunks pass the limit; the refused rest is read (and dropped) up to DISCARD_MAX_BYTES.
    expect(body.reads()).toBe(2 + DISCARD_MAX_BYTES / 1024)
  })

  it('answers a client that went away mid-body 499: no 500, no error line, counted as 499', async () => {
    const { app, metrics, levels } = setup()
    const client = new AbortController()
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"customerId":'))
        client.abort()
        controller.error(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))
      },
    })
    const res = await app.request('/orders', {
      method: 'POST',
      body,
      duplex: 'half',
      signal: client.signal,
      headers: { 'Content-Type': 'application/json', ...bearer('alice') },
    } as RequestInit)

    expect(res.status).toBe(499)
    expect(levels()).not.toContain('error')
    const text = await metrics.registry.metrics()
    expect(text).toContain(
      'http_requests_total{method="POST",route="/orders",status="499",service="order"} 1',
    )
    expect(text).not.toMatch(/status="500"/)
  })

  it('answers GET / with the service index and the gateway-wide 404 body elsewhere', async () => {
    const { app } = setup()
    const index = await app.request('/')
    const missing = await app.request('/nope')
    expect(await index.json()).toStrictEqual({
      service: 'order',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      routes: [
        'GET /',
        'GET /health',
        'GET /ready',
        'GET /metrics',
        'POST /orders',
        'GET /orders/:orderId',
        'POST /orders/:orderId/cancel',
      ],
    })
    expect([missing.status, await missing.json()]).toStrictEqual([
      404,
      { error: 'not_found', message: 'no route GET /nope' },
    ])
  })
})
