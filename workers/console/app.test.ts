import { describe, expect, it } from 'vitest'
import { bearer, createTestVerifier } from '../../shared/http/api-keys-fixture.ts'
import { setClientAddress } from '../../shared/http/client-address.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import { DeadLetterNotFoundError, DeadLetterNotReplayableError } from '../../shared/nats/dead-letter-admin.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import { createConsoleApp } from './app.ts'
import type { OpenApiDocument } from '../../shared/http/openapi.ts'
import {
  createContract,
  documentedRoutes,
  openApiProblems,
  servedRoutes,
} from '../../test/support/openapi-contract.ts'
import { consoleOpenApi } from './openapi.ts'
import type { ConsoleData } from './console-data.ts'
import type { ChangeListener } from './live.ts'
import { parseBreaker, toStockLevel } from './operations.ts'

const ORDER = '019ae5a0-5b3c-7d2e-8f10-123456789abc'

async function appWith(overrides: Partial<ConsoleData> = {}, { perSecond = 100, burst = 100 } = {}) {
  const listeners = new Set<ChangeListener>()
  const stops = new Set<() => void>()
  const searches: unknown[] = []
  const data: ConsoleData = {
    searchOrders: (input) => {
      searches.push(input)
      return Promise.resolve({ orders: [], next: null })
    },
    orderWithTimeline: () => Promise.resolve(null),
    cancelOrder: () => Promise.resolve({ status: 202, body: { cancellation: 'requested' } }),
    deadLetters: () => Promise.resolve([]),
    deadLetter: (id) => Promise.reject(new DeadLetterNotFoundError(`no dead letter ${id} in DLQ`)),
    replayDeadLetter: (id) =>
      Promise.reject(new DeadLetterNotReplayableError(`dead letter ${id} has no original`)),
    removeDeadLetter: () => Promise.resolve(true),
    purgeDeadLetters: () => Promise.resolve(3),
    consumers: () => Promise.resolve([]),
    breaker: () => Promise.resolve({ state: 'closed', paused: [] }),
    stock: () => Promise.resolve({ stock: [], invalid: [] }),
    live: {
      subscribe: (listener, onStop) => {
        listeners.add(listener)
        if (onStop !== undefined) stops.add(onStop)
        return () => listeners.delete(listener)
      },
    },
    ...overrides,
  }
  const app = createConsoleApp({
    data,
    logger: createLogger({ service: 'console', level: 'silent' }),
    metrics: createMetrics('console'),
    checkReady: () => Promise.resolve({ ok: true }),
    verifier: await createTestVerifier(),
    limiter: createRateLimiter({ perSecond, burst }),
  })
  return { app, listeners, searches, stops }
}

describe('console routes', () => {
  it('serves the page and its files with a same-origin-only policy, without a key', async () => {
    const { app } = await appWith()
    for (const [path, type] of [
      ['/console', 'text/html'],
      ['/console/console.js', 'text/javascript'],
      ['/console/console.css', 'text/css'],
    ] as const) {
      const res = await app.request(path)
      expect(res.status, path).toBe(200)
      expect(res.headers.get('content-type')).toContain(type)
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'; script-src 'self'")
    }
  })

  it('marks its API answers, errors and 404s with the security headers too', async () => {
    const { app } = await appWith()
    for (const [path, headers] of [
      ['/console/api/orders', {}],
      ['/console/api/orders', bearer('ops')],
      ['/console/%3Csvg%20onload=alert(1)%3E', {}],
    ] as const) {
      const res = await app.request(path, { headers })
      expect([
        path,
        res.headers.get('x-content-type-options'),
        res.headers.get('referrer-policy'),
      ]).toStrictEqual([path, 'nosniff', 'no-referrer'])
      expect(res.headers.get('x-frame-options')).toBe('DENY')
    }
  })

  it('wants an admin key for the API: 401 without, 403 with a client key', async () => {
    const { app } = await appWith()
    expect((await app.request('/console/api/orders')).status).toBe(401)
    expect((await app.request('/console/api/orders', { headers: bearer('alice') })).status).toBe(403)
    const ok = await app.request('/console/api/orders', { headers: bearer('ops') })
    expect(ok.status).toBe(200)
    expect(ok.headers.get('cache-control')).toBe('no-store')
  })

  it("counts a client key's 403s as failed attempts of its address, never an admin key's requests", async () => {
    const { app } = await appWith({}, { perSecond: 0.5, burst: 2 })
    const from = (headers: Record<string, string>) => {
      const request = new Request('http://console/console/api/orders', { headers })
      setClientAddress(request, '203.0.113.7')
      return app.fetch(request)
    }
    const forbidden = []
    for (let i = 0; i < 3; i++) forbidden.push((await from(bearer('alice'))).status)
    expect(forbidden).toStrictEqual([403, 403, 429])
    expect((await from(bearer('ops'))).status).toBe(200)
  })

  it('reads a search and reports every problem with it at once', async () => {
    const { app, searches } = await appWith()
    const good = await app.request(
      `/console/api/orders?status=cancelled&reason=out_of_stock&customer=alice&limit=20&cursor=1764787762071_${ORDER}`,
      { headers: bearer('ops') },
    )
    expect(good.status).toBe(200)
    expect(searches).toStrictEqual([
      {
        search: { status: 'cancelled', reason: 'out_of_stock', customerId: 'alice' },
        limit: 20,
        before: { createdMs: 1764787762071, orderId: ORDER },
      },
    ])
    const bad = await app.request('/console/api/orders?status=lost&limit=500&cursor=x', {
      headers: bearer('ops'),
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { message: string }).message).toBe(
      'status must be one of pending, reserved, confirmed, cancelled; limit must be an integer from 1 to 100; cursor must be the next value of a previous page',
    )
    const misspelt = await app.request('/console/api/orders?q=alice&customer=bob&stauts=x&q=y', {
      headers: bearer('ops'),
    })
    expect([misspelt.status, await misspelt.json()]).toStrictEqual([
      400,
      {
        error: 'invalid_search',
        message:
          'unknown parameter "q", "stauts" (known: status, reason, customer, limit, cursor); "q" given more than once',
      },
    ])
    const unknownReason = await app.request(
      '/console/api/orders?status=cancelled&status=confirmed&reason=bogus',
      {
        headers: bearer('ops'),
      },
    )
    expect([unknownReason.status, await unknownReason.json()]).toStrictEqual([
      400,
      {
        error: 'invalid_search',
        message:
          '"status" given more than once; reason must be one of out_of_stock, payment_declined, payment_failed, customer_request, deadline_exceeded',
      },
    ])
    expect(searches).toHaveLength(1)
  })

  it('answers 400 for a malformed order id and 404 for an unknown order', async () => {
    const { app } = await appWith()
    expect((await app.request('/console/api/orders/nope', { headers: bearer('ops') })).status).toBe(400)
    expect((await app.request(`/console/api/orders/${ORDER}`, { headers: bearer('ops') })).status).toBe(404)
  })

  it('reads an order id in upper case as the same order', async () => {
    const asked: string[] = []
    const { app } = await appWith({
      orderWithTimeline: (id: string) => (asked.push(id), Promise.resolve(null)),
    })
    await app.request(`/console/api/orders/${ORDER.toUpperCase()}`, { headers: bearer('ops') })
    expect(asked).toStrictEqual([ORDER.toLowerCase()])
  })

  it("passes the operator's key to the cancellation API and its answer back", async () => {
    const seen: string[] = []
    const { app } = await appWith({
      cancelOrder: (orderId, authorization) => {
        seen.push(`${orderId} ${authorization}`)
        return Promise.resolve({ status: 404, body: { error: 'not_found' } })
      },
    })
    const res = await app.request(`/console/api/orders/${ORDER}/cancel`, {
      method: 'POST',
      headers: bearer('ops'),
    })
    expect(res.status).toBe(404)
    expect(await res.json()).toStrictEqual({ error: 'not_found' })
    expect(seen).toStrictEqual([`${ORDER} ${bearer('ops').Authorization}`])
  })

  it("passes the order service's 429 on with its Retry-After, and its 500", async () => {
    const contract = createContract(consoleOpenApi())
    const answers = [
      { status: 429, body: { error: 'rate_limited', message: 'too many requests' }, retryAfter: '2' },
      { status: 500, body: { error: 'invalid_record', message: 'retrying will not help' } },
    ] as const
    const { app } = await appWith({ cancelOrder: () => Promise.resolve(answers[seen++] ?? answers[1]) })
    let seen = 0
    const send = () =>
      contract.request(app, `/console/api/orders/${ORDER}/cancel`, { method: 'POST', headers: bearer('ops') })
    const limited = await send()
    expect([limited.status, limited.headers.get('Retry-After')]).toStrictEqual([429, '2'])
    const invalid = await send()
    expect([invalid.status, invalid.headers.get('Retry-After')]).toStrictEqual([500, null])
    expect(await invalid.json()).toStrictEqual(answers[1].body)
  })

  it('maps dead-letter errors: unknown 404, without an original 409; purges answer counts', async () => {
    const { app } = await appWith()
    const headers = bearer('ops')
    expect((await app.request('/console/api/dead-letters/7', { headers })).status).toBe(404)
    expect(
      (await app.request('/console/api/dead-letters/7/replay', { method: 'POST', headers })).status,
    ).toBe(409)
    const one = await app.request('/console/api/dead-letters/7/purge', { method: 'POST', headers })
    expect(await one.json()).toStrictEqual({ id: 7, purged: 1 })
    const some = await app.request('/console/api/dead-letters/purge?subject=dlq.orders.created', {
      method: 'POST',
      headers,
    })
    expect(await some.json()).toStrictEqual({ purged: 3 })
  })

  it.each([
    ['GET', '/console/api/orders/0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f?x=1'],
    ['POST', '/console/api/orders/0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f/cancel?reason=fraud'],
    ['GET', '/console/api/dead-letters/7?x=1'],
    ['POST', '/console/api/dead-letters/7/replay?subject=dlq.orders.created'],
    ['POST', '/console/api/dead-letters/7/purge?=1'],
    ['GET', '/console/api/consumers?x=1'],
    ['GET', '/console/api/breaker?x=1'],
    ['GET', '/console/api/stock?sku=A'],
    ['GET', '/console/api/live?x=1'],
  ])('refuses a query parameter on %s %s, a route that takes none', async (method, path) => {
    const { app } = await appWith()
    const res = await app.request(path, { method, headers: bearer('ops') })
    expect([res.status, ((await res.json()) as { error: string }).error]).toStrictEqual([
      400,
      'invalid_query',
    ])
    // Without it, a read answers (an empty `?` is no parameter).
    if (method === 'GET' && !path.includes('/live')) {
      const plain = await app.request(path.replace(/\?.*$/, '?'), { headers: bearer('ops') })
      expect([path, plain.status]).not.toStrictEqual([path, 400])
    }
  })

  it('lists dead letters with subject as the only parameter', async () => {
    const { app } = await appWith()
    const headers = bearer('ops')
    expect(
      (await app.request('/console/api/dead-letters?subject=dlq.orders.created', { headers })).status,
    ).toBe(200)
    for (const query of [
      'foo=1',
      'subject=dlq.orders.created&subject=dlq.payments.failed',
      'subject=',
      '=1',
      'subject=dlq.a&=dlq.b',
    ]) {
      const res = await app.request(`/console/api/dead-letters?${query}`, { headers })
      expect([res.status, ((await res.json()) as { error: string }).error]).toStrictEqual([
        400,
        'invalid_query',
      ])
    }
  })

  it('refuses a bulk purge whose filter is misspelt, repeated or empty, and purges nothing', async () => {
    const purges: unknown[] = []
    const { app } = await appWith({
      purgeDeadLetters: (subject) => {
        purges.push(subject)
        return Promise.resolve(9)
      },
    })
    const headers = bearer('ops')
    for (const query of [
      'subjct=dlq.payments.completed',
      'subject=dlq.a&subject=dlq.b',
      'all=1',
      'subject=',
      // A parameter without a name is a parameter too, not "no filter".
      '=dlq.orders.created',
    ]) {
      const res = await app.request(`/console/api/dead-letters/purge?${query}`, { method: 'POST', headers })
      expect([res.status, ((await res.json()) as { error: string }).error], query).toStrictEqual([
        400,
        'invalid_query',
      ])
    }
    expect(purges).toStrictEqual([])
    const all = await app.request('/console/api/dead-letters/purge', { method: 'POST', headers })
    expect([all.status, await all.json(), purges]).toStrictEqual([200, { purged: 9 }, [undefined]])
  })

  it.each(['1e1', '0x10', '+5', '05', '5.0', ' 5'])('refuses limit=%j: digits only', async (limit) => {
    const { app, searches } = await appWith()
    const res = await app.request(`/console/api/orders?limit=${encodeURIComponent(limit)}`, {
      headers: bearer('ops'),
    })
    expect([res.status, await res.json()]).toStrictEqual([
      400,
      { error: 'invalid_search', message: 'limit must be an integer from 1 to 100' },
    ])
    expect(searches).toStrictEqual([])
  })

  it.each(['0', '-1', 'abc', '1e3', '0x10', '07', '99999999999999999999'])(
    'answers 400 for %j as a dead-letter id, on show, replay and purge',
    async (id) => {
      const { app } = await appWith()
      const headers = bearer('ops')
      for (const [path, method] of [
        [`/console/api/dead-letters/${id}`, 'GET'],
        [`/console/api/dead-letters/${id}/replay`, 'POST'],
        [`/console/api/dead-letters/${id}/purge`, 'POST'],
      ] as const) {
        const res = await app.request(path, { method, headers })
        expect(res.status, `${method} ${path}`).toBe(400)
        expect(await res.json()).toMatchObject({ error: 'invalid_dead_letter_id' })
      }
    },
  )

  it('streams live changes as Server-Sent Events and lets go when the client leaves', async () => {
    const { app, listeners } = await appWith()
    const abort = new AbortController()
    const res = await app.request('/console/api/live', { headers: bearer('ops'), signal: abort.signal })
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let text = ''
    const readUntil = async (part: string) => {
      while (!text.includes(part)) text += decoder.decode((await reader.read()).value, { stream: true })
    }
    await readUntil('event: ready')
    for (const listener of listeners) listener([{ orderId: ORDER, status: 'confirmed' }])
    await readUntil('event: orders')
    expect(text).toContain(`data: [{"orderId":"${ORDER}","status":"confirmed"}]`)
    abort.abort()
    await reader.cancel()
    for (let i = 0; i < 50 && listeners.size > 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(listeners.size).toBe(0)
  })

  it('ends a live stream when the console stops, so the HTTP server can close', async () => {
    const { app, listeners, stops } = await appWith()
    const res = await app.request('/console/api/live', { headers: bearer('ops') })
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let text = ''
    while (!text.includes('event: ready'))
      text += decoder.decode((await reader.read()).value, { stream: true })
    expect(stops.size).toBe(1)
    for (const stop of stops) stop()
    // The body ends (well before the 15 s heartbeat), and the stream lets go of its subscription.
    const ended = await Promise.race([
      (async () => {
        while (!(await reader.read()).done);
        return true
      })(),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3_000)),
    ])
    expect(ended).toBe(true)
    expect(listeners.size).toBe(0)
  })

  it('cuts a live stream whose client reads nothing when the console stops, not 15 s later', async () => {
    const { app, listeners, stops } = await appWith()
    const res = await app.request('/console/api/live', { headers: bearer('ops') })
    expect(res.status).toBe(200)
    for (let i = 0; i < 50 && listeners.size === 0; i++) await new Promise((r) => setTimeout(r, 10))
    // Enough changes to fill what an unread body buffers: the stream waits on a write.
    const change = [{ orderId: ORDER, status: 'confirmed', customerId: 'x'.repeat(2_000) }]
    for (let i = 0; i < 500; i++) for (const listener of listeners) listener(change)
    await new Promise((r) => setTimeout(r, 100))
    const stopped = Date.now()
    for (const stop of stops) stop()
    for (let i = 0; i < 300 && listeners.size > 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(listeners.size).toBe(0)
    expect(Date.now() - stopped).toBeLessThan(2_500)
  })

  it('answers HEAD on the live feed with its headers only, subscribing nothing', async () => {
    const { app, listeners } = await appWith()
    const res = await app.request('/console/api/live', { method: 'HEAD', headers: bearer('ops') })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream')
    expect(await res.text()).toBe('')
    expect(listeners.size).toBe(0)
  })

  it('drops a live client that reads nothing while 1,000 changes wait for it', async () => {
    const { app, listeners } = await appWith()
    const res = await app.request('/console/api/live', { headers: bearer('ops') })
    expect(res.status).toBe(200)
    for (let i = 0; i < 50 && listeners.size === 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(listeners.size).toBe(1)
    for (let i = 0; i < 999; i++)
      for (const listener of listeners) listener([{ orderId: ORDER, status: 'confirmed' }])
    expect(listeners.size).toBe(1)
    for (let i = 0; i < 2; i++)
      for (const listener of [...listeners]) listener([{ orderId: ORDER, status: 'confirmed' }])
    for (let i = 0; i < 50 && listeners.size > 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(listeners.size).toBe(0)
  })
})

describe('console readings', () => {
  it('reads the breaker and paused consumers from the payment metrics', () => {
    const text = [
      '# HELP payment_breaker_state the gateway circuit breaker',
      'payment_breaker_state{service="payment"} 1',
      'consumer_paused{service="payment",consumer="payment"} 1',
      'consumer_paused{service="payment",consumer="payment-express"} 0',
    ].join('\n')
    expect(parseBreaker(text)).toStrictEqual({ state: 'open', paused: ['payment'] })
    expect(parseBreaker('up 1')).toMatchObject({ state: 'unknown' })
  })

  it('counts what open orders hold against what is on hand', () => {
    const record = {
      sku: 'MUG-002',
      onHand: 10,
      priceCents: 1250,
      sold: 4,
      holds: { a: { quantity: 2, unitPriceCents: 1250 }, b: { quantity: 3, unitPriceCents: 1250 } },
    }
    expect(toStockLevel('MUG-002', record)).toStrictEqual({
      sku: 'MUG-002',
      onHand: 10,
      reserved: 5,
      available: 5,
      priceCents: 1250,
      sold: 4,
    })
  })

  it('shows no stock level for a record the inventory service would refuse (not zeros)', () => {
    const valid = { sku: 'MUG-002', onHand: 1, priceCents: 1, sold: 0, holds: {} }
    expect(toStockLevel('MUG-002', { ...valid, onHand: 'x' })).toBeNull()
    expect(toStockLevel('MUG-002', { onHand: 5 })).toBeNull()
    expect(toStockLevel('MUG-002', null)).toBeNull()
    expect(toStockLevel('MUG-002', valid)).not.toBeNull()
  })
})

describe('the OpenAPI document', () => {
  const letter = {
    id: 3,
    dlqSubject: 'dlq.orders.created',
    time: '2026-12-04T10:00:00.000Z',
    subject: 'orders.created',
    stream: 'ORDERS',
    sequence: 41,
    consumer: 'inventory',
    deliveries: 5,
    reason: 'max_deliver_exhausted: boom',
  }
  const full: Partial<ConsoleData> = {
    searchOrders: () =>
      Promise.resolve({
        orders: [{ orderId: ORDER, status: 'cancelled', reason: 'out_of_stock', createdMs: 1764787762071 }],
        next: `1764787762071_${ORDER}`,
      }),
    orderWithTimeline: () =>
      Promise.resolve({
        order: {
          orderId: ORDER,
          status: 'confirmed',
          history: [{ event: 'orders.created', status: 'pending', at: '2026-12-04T10:00:00.000Z' }],
          customerId: 'alice',
        },
        timeline: {
          events: [
            {
              event: 'orders.created',
              status: 'pending',
              at: '2026-12-04T10:00:00.000Z',
              message: {
                seq: 41,
                subject: 'orders.created',
                storedAt: '2026-12-04T10:00:00.001Z',
                publisher: '/order-saga/order',
                msgId: ORDER,
                scheduled: false,
                payload: { orderId: ORDER },
              },
              consumers: [
                {
                  consumer: 'inventory',
                  state: 'acked',
                  deliveries: 2,
                  retries: [{ deliveries: 1, at: 'x' }],
                },
              ],
              compensation: false,
            },
          ],
          deadLetters: [
            {
              id: 3,
              subject: 'orders.created',
              consumer: 'inventory',
              deliveries: 5,
              reason: letter.reason,
              sequence: 41,
              time: letter.time,
              present: true,
            },
          ],
          reads: 1,
        },
      }),
    deadLetters: () => Promise.resolve([letter]),
    deadLetter: () => Promise.resolve({ ...letter, headers: { 'Dlq-Reason': ['boom'] }, payload: '{}' }),
    replayDeadLetter: () =>
      Promise.resolve({
        id: 3,
        subject: 'orders.created',
        msgId: 'replay:DLQ:3',
        headers: {},
        bytes: 2,
        stream: 'ORDERS',
        seq: 42,
        duplicate: false,
      }),
    consumers: () =>
      Promise.resolve([
        {
          stream: 'ORDERS',
          name: 'inventory',
          pending: 0,
          ackPending: 1,
          redelivered: 0,
          ackFloor: 40,
          delivered: 41,
          lastActive: null,
        },
      ]),
    breaker: () => Promise.resolve({ state: 'unknown', paused: [], error: 'payment did not answer' }),
    stock: () =>
      Promise.resolve({
        stock: [{ sku: 'MUG-002', onHand: 10, reserved: 2, available: 8, priceCents: 1250, sold: 1 }],
        invalid: ['BROKEN-1'],
      }),
  }

  it('is served at /openapi.json, valid OpenAPI 3.1, and lists exactly the routes served', async () => {
    const { app } = await appWith()
    const served = (await (await app.request('/openapi.json')).json()) as OpenApiDocument
    expect(served).toStrictEqual(JSON.parse(JSON.stringify(consoleOpenApi())))
    expect(await openApiProblems(served)).toStrictEqual([])
    expect(servedRoutes(app)).toStrictEqual(documentedRoutes(served))
    expect((await app.request('/docs')).status).toBe(200)
  })

  it('describes what the routes answer', async () => {
    const contract = createContract(consoleOpenApi())
    const ops = bearer('ops')
    const send = async (
      app: Awaited<ReturnType<typeof appWith>>['app'],
      path: string,
      method = 'GET',
      key: Record<string, string> = ops,
    ) => (await contract.request(app, path, { method, headers: key })).status
    const { app } = await appWith(full)
    const empty = (await appWith()).app
    for (const path of ['/console', '/console/console.js', '/console/console.css', '/', '/health', '/ready'])
      expect(await send(app, path, 'GET', {}), path).toBe(200)
    expect(await send(app, '/openapi.json', 'GET', {})).toBe(200)
    for (const path of [
      '/console/api/orders?status=cancelled',
      `/console/api/orders/${ORDER}`,
      '/console/api/dead-letters',
      '/console/api/dead-letters/3',
      '/console/api/consumers',
      '/console/api/breaker',
      '/console/api/stock',
    ])
      expect(await send(app, path), path).toBe(200)
    expect(await send(app, '/console/api/dead-letters/3/replay', 'POST')).toBe(200)
    expect(await send(app, '/console/api/dead-letters/3/purge', 'POST')).toBe(200)
    expect(await send(app, '/console/api/dead-letters/purge', 'POST')).toBe(200)
    expect(await send(app, `/console/api/orders/${ORDER}/cancel`, 'POST')).toBe(202)
    expect(await send(app, '/console/api/orders?limit=0')).toBe(400)
    expect(await send(app, '/console/api/orders/nope')).toBe(400)
    expect(await send(app, '/console/api/dead-letters?x=1')).toBe(400)
    expect(await send(app, '/console/api/dead-letters/0')).toBe(400)
    expect(await send(empty, `/console/api/orders/${ORDER}`)).toBe(404)
    expect(await send(empty, '/console/api/dead-letters/9')).toBe(404)
    expect(await send(empty, '/console/api/dead-letters/9/replay', 'POST')).toBe(409)
    expect(await send(app, '/console/api/orders', 'GET', {})).toBe(401)
    expect(await send(app, '/console/api/orders', 'GET', bearer('alice'))).toBe(403)
  })
})
