import { describe, expect, it } from 'vitest'
import { setClientAddress } from '../../shared/http/client-address.ts'
import { endlessBody, streamed } from '../../shared/http/endless-body-fixture.ts'
import { authorized, chargeBody, chargeView, createTestApp } from './app-fixture.ts'

describe('reading charges', () => {
  it('lists only the succeeded charges of the order asked for, or all of them', async () => {
    const { charge, listCharges } = createTestApp()
    await charge('key-1', chargeBody({ orderId: 'order-a' }))
    await charge('key-2', chargeBody({ orderId: 'order-b', amountCents: 500, currency: 'USD' }))
    await charge('key-3', chargeBody({ orderId: 'order-a', token: 'tok_declined' }))

    const orderA = chargeView({ orderId: 'order-a' })
    const orderB = chargeView({ id: 'ch_2', amountCents: 500, currency: 'USD', orderId: 'order-b' })
    expect(await listCharges('order-a')).toStrictEqual({ charges: [orderA] })
    expect(await listCharges('order-c')).toStrictEqual({ charges: [] })
    expect(await listCharges()).toStrictEqual({ charges: [orderA, orderB] })
  })

  it.each([
    ['/charges?orderid=order-a', 'the only parameter is orderId, once; got "orderid"'],
    ['/charges?foo=1', 'the only parameter is orderId, once; got "foo"'],
    ['/charges?orderId=a&orderId=b', 'the only parameter is orderId, once; got "orderId"'],
    ['/charges?orderId=', 'orderId is empty; leave it out for no filter'],
    ['/refunds?orderId=order-a', 'the only parameter is chargeId, once; got "orderId"'],
    ['/refunds?chargeId=', 'chargeId is empty; leave it out for no filter'],
  ])('refuses %s with 400 invalid_query rather than listing every one', async (path, message) => {
    const { charge, read } = createTestApp()
    await charge('key-1', chargeBody({ orderId: 'order-a' }))
    expect(await read(path)).toStrictEqual([400, { error: 'invalid_query', message }])
  })

  it('answers GET /charges/:id with the charge, and 404 for an unknown id', async () => {
    const { app, charge } = createTestApp()
    await charge('key-1', chargeBody())

    const found = await app.request('/charges/ch_1', { headers: authorized })
    const missing = await app.request('/charges/ch_404', { headers: authorized })

    expect([found.status, await found.json()]).toStrictEqual([200, chargeView()])
    expect([missing.status, await missing.json()]).toStrictEqual([
      404,
      { error: 'not_found', message: 'no charge ch_404' },
    ])
  })
})

describe('the secret key', () => {
  it.each([
    ['POST', '/charges', undefined],
    ['GET', '/charges', undefined],
    ['GET', '/charges?orderId=order-1', 'Bearer gw_sk_wrong'],
    ['GET', '/charges/ch_1', 'Basic Z3c6c2s='],
    ['GET', '/charge-attempts/key-1', undefined],
    ['POST', '/refunds', 'Bearer gw_sk_wrong'],
    ['GET', '/refunds', undefined],
  ])('answers %s %s with %s 401 like a real processor', async (method, path, authorization) => {
    const { app, listCharges } = createTestApp()
    const res = await app.request(path, {
      method,
      headers: authorization === undefined ? {} : { Authorization: authorization },
      ...(method === 'POST' ? { body: JSON.stringify(chargeBody()) } : {}),
    })
    expect(res.status).toBe(401)
    expect(res.headers.get('WWW-Authenticate')).toMatch(/^Bearer realm="order-saga"/)
    const body = (await res.json()) as { error: string; message: string }
    expect(body.error).toBe('unauthorized')
    // It names the key it wants: an API key is not what the gateway takes.
    expect(body.message).toBe(
      authorization?.startsWith('Bearer ')
        ? 'the gateway secret key (GATEWAY_SECRET_KEY) is not valid'
        : 'send the gateway secret key (GATEWAY_SECRET_KEY) as Authorization: Bearer <key>',
    )
    expect(await listCharges()).toStrictEqual({ charges: [] })
  })

  it.each([
    ['no key', {}],
    ['a wrong key', { Authorization: 'Bearer gw_sk_wrong' }],
  ])('answers POST /charges with %s 401 before reading a byte of the body', async (_name, headers) => {
    const { app } = createTestApp({ config: { maxBodyBytes: 1024 } })
    const body = endlessBody()
    const res = await app.request(
      '/charges',
      streamed('POST', body.stream, {
        'Idempotency-Key': 'k-1',
        'Content-Type': 'application/json',
        ...headers,
      }),
    )
    expect(res.status).toBe(401)
    expect(body.reads()).toBe(0)
  })

  it('slows key guessing per client address, never the right key', async () => {
    const { app } = createTestApp({ config: { rateLimitPerSecond: 0.5, rateLimitBurst: 2 } })
    const from = (address: string, authorization: string) => {
      const request = new Request('http://gateway/charges', { headers: { Authorization: authorization } })
      setClientAddress(request, address)
      return app.fetch(request)
    }
    const guesses = []
    for (let i = 0; i < 3; i++) guesses.push((await from('203.0.113.7', `Bearer gw_sk_${i}`)).status)
    const right = []
    for (let i = 0; i < 4; i++) right.push((await from('203.0.113.7', authorized.Authorization)).status)
    const elsewhere = await from('198.51.100.1', 'Bearer gw_sk_9')

    expect(guesses).toStrictEqual([401, 401, 429])
    expect(right).toStrictEqual([200, 200, 200, 200])
    expect(elsewhere.status).toBe(401)
  })

  it('leaves GET /, /health, /ready and /metrics open', async () => {
    const { app } = createTestApp()
    const statuses = await Promise.all(
      ['/', '/health', '/ready', '/metrics'].map(async (path) => (await app.request(path)).status),
    )
    expect(statuses).toStrictEqual([200, 200, 200, 200])
  })
})

describe('service routes', () => {
  it('answers GET / with the service index', async () => {
    const { app } = createTestApp()
    expect(await (await app.request('/')).json()).toStrictEqual({
      service: 'gateway',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      routes: [
        'GET /',
        'GET /health',
        'GET /ready',
        'GET /metrics',
        'GET /openapi.json',
        'GET /docs',
        'GET /docs/:asset',
        'POST /charges',
        'GET /charges',
        'GET /charges/:id',
        'GET /charge-attempts/:key',
        'POST /refunds',
        'GET /refunds',
      ],
    })
  })

  it('refuses a body over GATEWAY_MAX_BODY_BYTES with 413', async () => {
    const { charge } = createTestApp({ config: { maxBodyBytes: 1024 } })
    const res = await charge('key-1', chargeBody({ orderId: 'o'.repeat(2_000) }))
    expect([res.status, await res.json()]).toStrictEqual([
      413,
      { error: 'payload_too_large', message: 'the body must be at most 1024 bytes' },
    ])
  })

  it('is always healthy and ready', async () => {
    const { app } = createTestApp()
    const health = await app.request('/health')
    const ready = await app.request('/ready')
    expect([health.status, await health.json()]).toStrictEqual([200, { status: 'ok' }])
    expect([ready.status, await ready.json()]).toStrictEqual([200, { status: 'ready' }])
  })

  it('counts charge attempts by route and status in /metrics', async () => {
    const { app, charge } = createTestApp()
    await charge('key-1', chargeBody({ token: 'tok_declined' }))

    const text = await (await app.request('/metrics')).text()

    expect(text).toContain(
      'http_requests_total{method="POST",route="/charges",status="402",service="gateway"} 1',
    )
  })

  it('answers 404 not_found for an unknown route, with the body every service uses', async () => {
    const { app } = createTestApp()
    const response = await app.request('/payouts', { method: 'POST' })
    expect([response.status, await response.json()]).toStrictEqual([
      404,
      { error: 'not_found', message: 'no route POST /payouts' },
    ])
  })

  it('answers 500 with a generic body, logs the error once and keeps the key free', async () => {
    let failures = 1
    const newChargeId = () => {
      if (failures-- > 0) throw new Error('id source broke')
      return 'ch_after'
    }
    const { charge, logs } = createTestApp({ newChargeId })

    const failed = await charge('key-1', chargeBody())
    const retry = await charge('key-1', chargeBody())

    expect([failed.status, await failed.json()]).toStrictEqual([
      500,
      { error: 'internal', message: 'internal error' },
    ])
    expect(logs().filter(({ level }) => level === 'error')).toMatchObject([
      { msg: 'charge attempt failed', err: { message: 'id source broke' } },
    ])
    expect(retry.status).toBe(201)
  })
})
