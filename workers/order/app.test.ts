import { describe, expect, it } from 'vitest'
import { bearer, createTestVerifier } from '../../shared/http/api-keys-fixture.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import type { OrderStatus } from '../../schemas/order-status.ts'
import { KvRecordError } from '../../shared/nats/kv-json.ts'
import { createApp } from './app.ts'
import { UnavailableError, type OrderStore, type PlaceOrderResult } from './order-store.ts'

const ORDER_ID = '0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f'
const validOrder = { customerId: 'c-1', items: [{ sku: 'SKU-1', quantity: 2 }], paymentToken: 'tok_ok' }
const verifier = await createTestVerifier()
const limiter = () => createRateLimiter({ perSecond: 1_000, burst: 1_000 })

function fakeStore(overrides: Partial<OrderStore> = {}): OrderStore & { calls: unknown[] } {
  const calls: unknown[] = []
  return {
    calls,
    placeOrder: (input) => {
      calls.push(input)
      const result: PlaceOrderResult = {
        kind: 'accepted',
        orderId: ORDER_ID,
        correlationId: input.correlationId,
        replayed: false,
        status: 'pending',
      }
      return Promise.resolve(result)
    },
    getOrder: () => Promise.resolve(null),
    requestCancellation: (input) => {
      calls.push(input)
      return Promise.resolve()
    },
    ...overrides,
  }
}

function appDeps(store: OrderStore) {
  return {
    store,
    logger: createLogger({ service: 'order', level: 'silent' }),
    metrics: createMetrics('order'),
    checkReady: () => Promise.resolve({ ok: true }),
    verifier,
    limiter: limiter(),
  }
}

function appWith(store: OrderStore) {
  return createApp(appDeps(store))
}

function post(app: ReturnType<typeof appWith>, body: string, headers: Record<string, string> = {}) {
  return app.request('/orders', {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'application/json', ...bearer('alice'), ...headers },
  })
}

const get = (app: ReturnType<typeof appWith>, path: string) => app.request(path, { headers: bearer('alice') })

describe('POST /orders', () => {
  it('accepts a valid order with 202, Location and the caller correlation id', async () => {
    const store = fakeStore()
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736'
    const res = await post(appWith(store), JSON.stringify(validOrder), {
      'X-Correlation-ID': 'corr-123',
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    })
    expect(res.status).toBe(202)
    expect(res.headers.get('Location')).toBe(`/orders/${ORDER_ID}`)
    expect(res.headers.get('X-Correlation-ID')).toBe('corr-123')
    expect(await res.json()).toStrictEqual({
      orderId: ORDER_ID,
      status: 'pending',
      correlationId: 'corr-123',
    })
    expect(store.calls).toStrictEqual([
      {
        request: {
          customer: { id: 'c-1' },
          items: validOrder.items,
          paymentToken: 'tok_ok',
          priority: 'standard',
        },
        fingerprintOf: validOrder,
        fingerprintBefore: validOrder,
        correlationId: 'corr-123',
        owner: 'alice',
        // The request's span, a child of the caller's: the event continues the caller's trace.
        trace: {
          traceId,
          spanId: expect.stringMatching(/^(?!00f067aa0ba902b7)[0-9a-f]{16}$/),
          sampled: true,
        },
      },
    ])
  })

  it.each([
    'alice smith',
    'Zoë',
    'Nguyễn Văn An',
    'नमस्ते',
    '山田太郎',
    '山田\u3000太郎',
    'Jean\u00A0Dupont',
    "o'brien",
    'a-b_c.d@e',
    '😀',
    '\u2764\uFE0F',
    '1\uFE0F\u20E3',
    '👩🏽\u200D💻',
    'ᠮᠣᠩᠭᠣᠯ\u180B',
    'می\u200Cخواهم',
    'ශ්\u200Dරී',
    '🏴\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}',
    '🏴\u{E0067}\u{E0062}\u{E0077}\u{E006C}\u{E0073}\u{E007F}',
    '👨\u200D👩\u200D👧',
    'क्\u200Dष',
    'र\u200D्',
    'ᠨᠠ\u180Eᠠ',
    'അവന്\u200D',
    'മോഹന്\u200Dലാല്\u200D',
    'क़्\u200Dष',
    '🏳\uFE0F\u200D🌈',
    '\u2764\uFE0F\u200D🔥',
    '🧑\u200D🦰',
    '👨🏿\u200D🚀',
    // Minimally qualified (no U+FE0F before the joiner): written so by keyboards and older data.
    '🏳\u200D🌈',
    '\u2764\u200D🔥',
    '👩\u200D\u2764\u200D👨',
    '🕵\u200D\u2640\uFE0F',
  ])('accepts the customer id %j', async (customerId) => {
    const res = await post(appWith(fakeStore()), JSON.stringify({ ...validOrder, customerId }))
    expect(res.status).toBe(202)
  })

  it('accepts a version 2 body (customer object, currency, the prices the customer saw)', async () => {
    const store = fakeStore()
    const v2 = {
      customer: { id: 'c-2', email: 'ada@example.com' },
      currency: 'USD',
      items: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 1250 }],
      paymentToken: 'tok_ok',
    }
    const res = await post(appWith(store), JSON.stringify(v2))
    expect(res.status).toBe(202)
    expect(store.calls).toMatchObject([{ request: v2, fingerprintOf: v2 }])
  })

  it("refuses a version 2 order in another currency than the shop's with 422, placing nothing", async () => {
    const store = fakeStore()
    const v2 = {
      customer: { id: 'c-2', email: 'ada@example.com' },
      currency: 'EUR',
      items: [{ sku: 'SKU-1', quantity: 2, unitPriceCents: 1250 }],
      paymentToken: 'tok_ok',
    }
    const res = await post(appWith(store), JSON.stringify(v2))
    expect([res.status, await res.json()]).toStrictEqual([
      422,
      { error: 'unsupported_currency', message: 'orders are taken in USD, not EUR' },
    ])
    expect(store.calls).toStrictEqual([])
    const eur = createApp({ ...appDeps(store), currency: 'EUR' })
    expect((await post(eur, JSON.stringify(v2))).status).toBe(202)
    expect((await post(eur, JSON.stringify({ ...v2, currency: 'USD' }))).status).toBe(422)
  })

  it.each([
    [
      {
        customer: { id: 'c' },
        currency: 'EUR',
        items: [{ sku: 'A', quantity: 1, unitPriceCents: 1 }],
        paymentToken: 't',
      },
      'customer.email',
    ],
    [
      {
        customer: { id: 'c', email: 'not-an-email' },
        currency: 'EUR',
        items: [{ sku: 'A', quantity: 1, unitPriceCents: 1 }],
        paymentToken: 't',
      },
      'customer.email',
    ],
    [
      {
        customer: { id: 'c', email: 'a@b.co' },
        currency: 'EUR',
        items: [{ sku: 'A', quantity: 1 }],
        paymentToken: 't',
      },
      'items.0.unitPriceCents',
    ],
    // Over the largest stock price: 1e20 would come back as 1e+20; past 2^53 digits are lost.
    ...[10_000_000_001, 1e20, 2 ** 53 + 2].map((unitPriceCents): [Record<string, unknown>, string] => [
      {
        customer: { id: 'c', email: 'a@b.co' },
        currency: 'EUR',
        items: [{ sku: 'A', quantity: 1, unitPriceCents }],
        paymentToken: 't',
      },
      'items.0.unitPriceCents',
    ]),
    [
      {
        customer: { id: 'c', email: 'a@b.co' },
        customerId: 'c',
        currency: 'EUR',
        items: [{ sku: 'A', quantity: 1, unitPriceCents: 1 }],
        paymentToken: 't',
      },
      'customerId',
    ],
  ])('rejects an invalid version 2 body %j naming %s', async (body, path) => {
    const res = await post(appWith(fakeStore()), JSON.stringify(body))
    expect(res.status).toBe(400)
    const answer = (await res.json()) as { error: string; issues: { path: string }[] }
    expect(answer.error).toBe('invalid_order')
    expect(answer.issues.map((i) => i.path)).toContain(path)
  })

  it('generates a correlation id when the header is missing or malformed', async () => {
    for (const headers of [
      {},
      { 'X-Correlation-ID': 'has space' },
      { 'X-Correlation-ID': 'x'.repeat(129) },
    ]) {
      const res = await post(appWith(fakeStore()), JSON.stringify(validOrder), headers)
      const body = (await res.json()) as { correlationId: string }
      expect(body.correlationId).toMatch(/^[0-9a-f-]{36}$/)
      expect(res.headers.get('X-Correlation-ID')).toBe(body.correlationId)
    }
  })

  it('passes a well-formed Idempotency-Key to the store and rejects a malformed one', async () => {
    const store = fakeStore()
    const app = appWith(store)
    expect((await post(app, JSON.stringify(validOrder), { 'Idempotency-Key': 'key-1' })).status).toBe(202)
    expect(store.calls).toStrictEqual([expect.objectContaining({ idempotencyKey: 'key-1' })])
    const bad = await post(app, JSON.stringify(validOrder), { 'Idempotency-Key': 'é' })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toBe('invalid_idempotency_key')
  })

  it('answers 422 when the store says the key was used with another body', async () => {
    const store = fakeStore({ placeOrder: () => Promise.resolve({ kind: 'idempotency_key_reused' }) })
    const res = await post(appWith(store), JSON.stringify(validOrder), { 'Idempotency-Key': 'k' })
    expect(res.status).toBe(422)
    expect(((await res.json()) as { error: string }).error).toBe('idempotency_key_reused')
  })

  it.each([
    ['an empty customer id', { ...validOrder, customerId: '' }, 'customerId'],
    [
      'a customer id with a right-to-left override',
      { ...validOrder, customerId: '\u202Eecila' },
      'customerId',
    ],
    ['a customer id with a newline', { ...validOrder, customerId: 'line\nbreak' }, 'customerId'],
    ['a customer id with a NUL', { ...validOrder, customerId: 'a\u0000b' }, 'customerId'],
    ['a customer id with a zero-width space', { ...validOrder, customerId: 'ali\u200Bce' }, 'customerId'],
    ['a customer id with a soft hyphen', { ...validOrder, customerId: 'ali\u00ADce' }, 'customerId'],
    ['a customer id with a line separator', { ...validOrder, customerId: 'ali\u2028ce' }, 'customerId'],
    ['a customer id with a grapheme joiner', { ...validOrder, customerId: 'ali\u034Fce' }, 'customerId'],
    ['a customer id with a Hangul filler', { ...validOrder, customerId: 'alice\u3164' }, 'customerId'],
    [
      'a customer id with a Hangul choseong filler',
      { ...validOrder, customerId: 'alice\u115F' },
      'customerId',
    ],
    ['a customer id of a blank braille pattern', { ...validOrder, customerId: '\u2800' }, 'customerId'],
    ['a customer id with a lone surrogate', { ...validOrder, customerId: 'a\uD800' }, 'customerId'],
    ['a customer id with a variation selector', { ...validOrder, customerId: 'a\uFE0F' }, 'customerId'],
    ['a customer id with a zero-width joiner', { ...validOrder, customerId: 'al\u200Dice' }, 'customerId'],
    [
      'a customer id with an ideographic variation selector',
      { ...validOrder, customerId: 'alice\u{E0100}' },
      'customerId',
    ],
    ['a customer id with a Khmer inherent vowel', { ...validOrder, customerId: 'alice\u17B4' }, 'customerId'],
    [
      'a customer id with a Mongolian variation selector after a Latin letter',
      { ...validOrder, customerId: 'alice\u180B' },
      'customerId',
    ],
    [
      'a customer id with an unassigned default-ignorable code point',
      { ...validOrder, customerId: 'alice\u2065' },
      'customerId',
    ],
    [
      'a customer id with a specials-block default-ignorable',
      { ...validOrder, customerId: 'alice\uFFF0' },
      'customerId',
    ],
    [
      'a customer id with a tag outside a flag',
      { ...validOrder, customerId: 'alice\u{E0067}' },
      'customerId',
    ],
    ['a customer id with a combining mark first', { ...validOrder, customerId: '\u0301alice' }, 'customerId'],
    [
      'a customer id with a private-use character',
      { ...validOrder, customerId: 'alice\uE000' },
      'customerId',
    ],
    ['a customer id with a noncharacter', { ...validOrder, customerId: 'alice\uFFFE' }, 'customerId'],
    [
      'a customer id with a noncharacter of another plane',
      { ...validOrder, customerId: 'alice\u{10FFFF}' },
      'customerId',
    ],
    [
      'a customer id with a chain of Mongolian variation selectors',
      { ...validOrder, customerId: 'ᠠ\u180B\u180B\u180B' },
      'customerId',
    ],
    [
      'a customer id with a zero-width non-joiner between Arabic digits',
      { ...validOrder, customerId: '١\u200C٢\u200C٣' },
      'customerId',
    ],
    [
      'a customer id with a zero-width non-joiner between Indic letters without a virama',
      { ...validOrder, customerId: 'क\u200Cख' },
      'customerId',
    ],
    [
      'a customer id with a zero-width non-joiner after an Indic vowel sign',
      { ...validOrder, customerId: 'रा\u200Cम' },
      'customerId',
    ],
    [
      'a customer id with two zero-width non-joiners in a Persian word',
      { ...validOrder, customerId: 'می\u200C\u200Cخواهم' },
      'customerId',
    ],
    ['a customer id not in NFC', { ...validOrder, customerId: 'Zoe\u0308' }, 'customerId'],
    [
      'a customer id with text in tags behind a black flag',
      {
        ...validOrder,
        customerId: `alice🏴${[...'refund all'].map((c) => String.fromCodePoint(0xe0000 + c.charCodeAt(0))).join('')}\u{E007F}`,
      },
      'customerId',
    ],
    [
      "a customer id with a keycap's selector without the keycap",
      { ...validOrder, customerId: 'alice1\uFE0F' },
      'customerId',
    ],
    [
      'a customer id with a zero-width joiner after a virama on a digit',
      { ...validOrder, customerId: '1\u094D\u200Dक' },
      'customerId',
    ],
    [
      'a customer id with a zero-width non-joiner after a virama on a Latin letter',
      { ...validOrder, customerId: 'a\u094D\u200Cक' },
      'customerId',
    ],
    [
      'a customer id with a zero-width joiner after a second virama',
      { ...validOrder, customerId: 'क\u094D\u094D\u200Dक' },
      'customerId',
    ],
    [
      'a customer id with a zero-width non-joiner in a Latin word',
      { ...validOrder, customerId: 'ali\u200Cce' },
      'customerId',
    ],
    ['a customer id with a trailing space', { ...validOrder, customerId: 'alice ' }, 'customerId'],
    ['a customer id with a leading space', { ...validOrder, customerId: ' alice' }, 'customerId'],
    ['a customer id with only spaces', { ...validOrder, customerId: '   ' }, 'customerId'],
    ['a customer id with an ideographic space alone', { ...validOrder, customerId: '\u3000' }, 'customerId'],
    [
      'a customer id with ten combining marks on one letter',
      { ...validOrder, customerId: `a${'\u0301'.repeat(10)}` },
      'customerId',
    ],
    [
      'a version 2 customer id with a bidirectional isolate',
      {
        customer: { id: 'bob\u2066', email: 'b@example.com' },
        currency: 'USD',
        paymentToken: 'tok_ok',
        items: [{ sku: 'A', quantity: 1, unitPriceCents: 1 }],
      },
      'customer.id',
    ],
    ['a customer id over 64 characters', { ...validOrder, customerId: 'c'.repeat(65) }, 'customerId'],
    ['no items', { ...validOrder, items: [] }, 'items'],
    [
      '101 items',
      { ...validOrder, items: Array.from({ length: 101 }, (_, i) => ({ sku: `S${i}`, quantity: 1 })) },
      'items',
    ],
    ['a lower-case sku', { ...validOrder, items: [{ sku: 'sku-1', quantity: 1 }] }, 'items.0.sku'],
    ['a sku starting with -', { ...validOrder, items: [{ sku: '-A', quantity: 1 }] }, 'items.0.sku'],
    ['a 33-character sku', { ...validOrder, items: [{ sku: 'A'.repeat(33), quantity: 1 }] }, 'items.0.sku'],
    ['quantity 0', { ...validOrder, items: [{ sku: 'A', quantity: 0 }] }, 'items.0.quantity'],
    ['quantity 1001', { ...validOrder, items: [{ sku: 'A', quantity: 1001 }] }, 'items.0.quantity'],
    ['a fractional quantity', { ...validOrder, items: [{ sku: 'A', quantity: 1.5 }] }, 'items.0.quantity'],
    [
      'a repeated sku',
      {
        ...validOrder,
        items: [
          { sku: 'A', quantity: 1 },
          { sku: 'A', quantity: 2 },
        ],
      },
      'items',
    ],
    ['an unknown field', { ...validOrder, coupon: 'FREE' }, 'coupon'],
    [
      'an unknown item field',
      { ...validOrder, items: [{ sku: 'A', quantity: 1, price: 1 }] },
      'items.0.price',
    ],
    ['a missing payment token', { customerId: 'c', items: validOrder.items }, 'paymentToken'],
    ['a payment token over 128 characters', { ...validOrder, paymentToken: 't'.repeat(129) }, 'paymentToken'],
  ])('rejects %s with 400 invalid_order naming the path', async (_name, body, path) => {
    const store = fakeStore()
    const res = await post(appWith(store), JSON.stringify(body))
    expect(res.status).toBe(400)
    const json = (await res.json()) as {
      error: string
      message: string
      issues: { path: string; message: string }[]
    }
    expect(json.error).toBe('invalid_order')
    expect(typeof json.message).toBe('string')
    expect(json.issues.map((i) => i.path)).toContain(path)
    expect(store.calls).toStrictEqual([])
  })

  it('lists at most 100 issues, so a body of many bad items gets a small answer', async () => {
    const items = Array.from({ length: 2_000 }, () => ({ sku: 'a', quantity: -1, z: 1 }))
    const body = JSON.stringify({ ...validOrder, items })
    const res = await post(appWith(fakeStore()), body)
    expect(res.status).toBe(400)
    const text = await res.text()
    expect((JSON.parse(text) as { issues: unknown[] }).issues).toHaveLength(100)
    expect(text.length).toBeLessThan(body.length)
  })

  it('keeps the problems nearest the top when there are more than 100: a missing or an unknown field', async () => {
    const items = Array.from({ length: 101 }, () => ({ sku: 'bad', quantity: 0 }))
    const { paymentToken: _token, ...noToken } = validOrder
    const res = await post(appWith(fakeStore()), JSON.stringify({ ...noToken, items, foo: 1 }))
    expect(res.status).toBe(400)
    const { issues } = (await res.json()) as { issues: { path: string; message: string }[] }
    expect(issues).toHaveLength(100)
    const top = issues.filter((i) => !i.path.startsWith('items.'))
    expect(top.map((i) => `${i.path}: ${i.message}`).sort()).toStrictEqual([
      'foo: is not an allowed field',
      'items: must hold at most 100 items',
      'items: must not repeat a sku',
      'paymentToken: is required',
    ])
  })

  it.each([
    [
      'over 100 items',
      Array.from({ length: 150 }, (_, i) => ({ sku: `S${i}`, quantity: i === 7 ? 0 : 1 })),
      'must hold at most 100 items',
    ],
    [
      'a repeated sku',
      [
        { sku: 'A', quantity: 1 },
        { sku: 'A', quantity: 2 },
        { sku: 'B', quantity: 0 },
      ],
      'must not repeat a sku',
    ],
  ])('names %s also when an item is invalid', async (_name, items, message) => {
    for (const body of [
      { ...validOrder, items },
      { customer: { id: 'c', email: 'c@example.com' }, currency: 'USD', paymentToken: 'tok_ok', items },
    ]) {
      const res = await post(appWith(fakeStore()), JSON.stringify(body))
      expect(res.status).toBe(400)
      const { issues } = (await res.json()) as { issues: { path: string; message: string }[] }
      expect(issues).toContainEqual({ path: 'items', message })
      expect(issues.filter((i) => i.path === 'items')).toHaveLength(1)
    }
  })

  it('never repeats a payment token of the wrong type in its answer', async () => {
    for (const paymentToken of [4111111111111111, { number: 4111111111111111 }, [4111111111111111]]) {
      const res = await post(appWith(fakeStore()), JSON.stringify({ ...validOrder, paymentToken }))
      expect(res.status).toBe(400)
      const text = await res.text()
      expect(text).not.toContain('4111111111111111')
      expect(JSON.parse(text)).toMatchObject({
        error: 'invalid_order',
        issues: [{ path: 'paymentToken', message: 'must be a string' }],
      })
    }
  })

  it.each(['[1,2]', '[]', '"x"', '42', 'null', 'true'])(
    'rejects %s as a body that is not an object, and stores nothing',
    async (body) => {
      const store = fakeStore()
      const res = await post(appWith(store), body)
      expect([res.status, await res.json()]).toStrictEqual([
        400,
        {
          error: 'invalid_order',
          message: 'body: must be a JSON object',
          issues: [{ path: '', message: 'must be a JSON object' }],
        },
      ])
      expect(store.calls).toStrictEqual([])
    },
  )

  it('says which type a field wants without quoting the value sent', async () => {
    const body = JSON.stringify({
      ...validOrder,
      items: [{ sku: 'MUG-002', quantity: '2' }],
      paymentToken: 42,
    })
    const res = await post(appWith(fakeStore()), body)
    expect(res.status).toBe(400)
    const answer = (await res.json()) as { issues: { path: string; message: string }[] }
    expect(answer.issues).toStrictEqual([
      { path: 'items.0.quantity', message: 'must be a number' },
      { path: 'paymentToken', message: 'must be a string' },
    ])
  })

  it('answers 400 malformed_json for broken JSON', async () => {
    const res = await post(appWith(fakeStore()), '{"customerId":')
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toBe('malformed_json')
  })

  it('answers 400 malformed_json for bytes that are not UTF-8, and stores nothing', async () => {
    const store = fakeStore()
    const app = appWith(store)
    const send = (body: Uint8Array<ArrayBuffer>) =>
      app.request('/orders', {
        method: 'POST',
        body,
        headers: { 'Content-Type': 'application/json', ...bearer('alice') },
      })
    const [head, tail] = JSON.stringify({ ...validOrder, customerId: 'c-\u00e9' }).split('\u00e9')
    const bytes = (middle: number[]) => {
      const encoder = new TextEncoder()
      return Uint8Array.from([...encoder.encode(head), ...middle, ...encoder.encode(tail)])
    }
    // é in Latin-1 (0xE9) is not UTF-8 (0xC3 0xA9).
    const res = await send(bytes([0xe9]))
    expect([res.status, await res.json()]).toStrictEqual([
      400,
      { error: 'malformed_json', message: 'the body is not valid UTF-8' },
    ])
    expect(store.calls).toStrictEqual([])
    expect((await send(bytes([0xc3, 0xa9]))).status).toBe(202)
    expect(store.calls).toMatchObject([{ request: { customer: { id: 'c-\u00e9' } } }])
  })

  it('answers 415 for a non-JSON content type', async () => {
    const app = appWith(fakeStore())
    const res = await app.request('/orders', {
      method: 'POST',
      body: JSON.stringify(validOrder),
      headers: { 'Content-Type': 'text/plain', ...bearer('alice') },
    })
    expect(res.status).toBe(415)
    const none = await app.request('/orders', {
      method: 'POST',
      body: JSON.stringify(validOrder),
      headers: bearer('alice'),
    })
    expect(none.status).toBe(415)
  })

  it('answers 415 for a body sent with a content coding, and places nothing', async () => {
    const store = fakeStore()
    const app = appWith(store)
    const gzip = await post(app, JSON.stringify(validOrder), {
      'Content-Type': 'application/json',
      'Content-Encoding': 'gzip',
    })
    expect([gzip.status, await gzip.json()]).toStrictEqual([
      415,
      {
        error: 'unsupported_media_type',
        message: 'a Content-Encoding is not accepted: send the body as it is',
      },
    ])
    expect(store.calls).toStrictEqual([])
    const identity = await post(app, JSON.stringify(validOrder), {
      'Content-Type': 'application/json',
      'Content-Encoding': 'identity',
    })
    expect(identity.status).toBe(202)
  })

  it('accepts application/json with a charset', async () => {
    const res = await post(appWith(fakeStore()), JSON.stringify(validOrder), {
      'Content-Type': 'application/json; charset=utf-8',
    })
    expect(res.status).toBe(202)
  })

  it('answers 413 above 64 KiB', async () => {
    const big = JSON.stringify({ ...validOrder, customerId: 'x'.repeat(64 * 1024) })
    const res = await post(appWith(fakeStore()), big)
    expect(res.status).toBe(413)
    expect(((await res.json()) as { error: string }).error).toBe('payload_too_large')
  })

  it('answers 503 with Retry-After when the store is unavailable', async () => {
    const store = fakeStore({ placeOrder: () => Promise.reject(new UnavailableError('down')) })
    const res = await post(appWith(store), JSON.stringify(validOrder))
    expect(res.status).toBe(503)
    expect(res.headers.get('Retry-After')).toBe('1')
    expect(((await res.json()) as { error: string }).error).toBe('unavailable')
  })

  it('says a full bucket is full, not that NATS is unreachable, and logs it as an error', async () => {
    const full = Object.assign(new Error('maximum bytes exceeded'), { code: 10077, status: 503 })
    const lines: Record<string, unknown>[] = []
    const app = createApp({
      ...appDeps(
        fakeStore({
          placeOrder: () => Promise.reject(new UnavailableError('claim failed', { cause: full })),
        }),
      ),
      logger: createLogger({
        service: 'order',
        level: 'warn',
        destination: {
          write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
        },
      }),
    })
    const res = await post(app, JSON.stringify(validOrder), { 'Idempotency-Key': 'k-full' })
    // A second refusal within the minute is not logged at error again.
    expect((await post(app, JSON.stringify(validOrder), { 'Idempotency-Key': 'k-full-2' })).status).toBe(503)
    expect([res.status, res.headers.get('Retry-After'), await res.json()]).toStrictEqual([
      503,
      '30',
      {
        error: 'unavailable',
        message: 'storage full; retry later',
      },
    ])
    expect(lines.map((l) => [l['level'], l['msg']])).toStrictEqual([
      ['error', 'NATS storage full: raise a size cap'],
    ])
  })

  it('names the order whose publish NATS stopped answering in its 503', async () => {
    const lost = Object.assign(new UnavailableError('publish timed out'), { orderId: ORDER_ID })
    const res = await post(
      appWith(fakeStore({ placeOrder: () => Promise.reject(lost) })),
      JSON.stringify(validOrder),
    )
    expect(res.status).toBe(503)
    expect(await res.json()).toMatchObject({ error: 'unavailable', orderId: ORDER_ID })
  })

  it('logs the order a failed read or cancellation was about (at warn once a minute, then at debug), and names no order in that 503', async () => {
    const lines: Record<string, unknown>[] = []
    const app = createApp({
      ...appDeps(
        fakeStore({
          getOrder: () => Promise.reject(new UnavailableError('read timed out')),
        }),
      ),
      logger: createLogger({
        service: 'order',
        level: 'debug',
        destination: {
          write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
        },
      }),
    })
    const upper = ORDER_ID.toUpperCase()
    for (const [path, method] of [
      [`/orders/${upper}`, 'GET'],
      [`/orders/${upper}/cancel`, 'POST'],
    ] as const) {
      const res = await app.request(path, { method, headers: bearer('alice') })
      expect(res.status).toBe(503)
      expect(await res.json()).not.toHaveProperty('orderId')
    }
    expect(
      lines
        .filter((l) => l['msg'] === 'NATS unavailable; answering 503')
        .map((l) => [l['level'], l['orderId']]),
    ).toStrictEqual([
      ['warn', ORDER_ID],
      ['debug', ORDER_ID],
    ])
  })

  it('answers 500 invalid_record, not 503, for a stored record that does not parse, and logs it', async () => {
    const lines: Record<string, unknown>[] = []
    const broken = () => Promise.reject(new KvRecordError(`${ORDER_ID} holds an invalid record: x`))
    const app = createApp({
      ...appDeps(fakeStore({ getOrder: broken })),
      logger: createLogger({
        service: 'order',
        level: 'warn',
        destination: {
          write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
        },
      }),
    })
    for (const [path, method] of [
      [`/orders/${ORDER_ID}`, 'GET'],
      [`/orders/${ORDER_ID}/cancel`, 'POST'],
    ] as const) {
      const res = await app.request(path, { method, headers: bearer('alice') })
      expect(res.status, `${method} ${path}`).toBe(500)
      expect(res.headers.get('Retry-After')).toBeNull()
      expect(((await res.json()) as { error: string }).error).toBe('invalid_record')
    }
    expect(lines.map((l) => [l['level'], l['msg'], l['orderId']])).toStrictEqual([
      ['error', 'stored record is not valid', ORDER_ID],
      ['error', 'stored record is not valid', ORDER_ID],
    ])
  })

  it('answers 500 with a generic body for an unexpected error', async () => {
    const store = fakeStore({ placeOrder: () => Promise.reject(new Error('secret detail')) })
    const res = await post(appWith(store), JSON.stringify(validOrder))
    expect(res.status).toBe(500)
    expect(await res.json()).toStrictEqual({ error: 'internal', message: 'internal error' })
  })
})

describe('GET /orders/:orderId', () => {
  const record: OrderStatus = {
    orderId: ORDER_ID,
    owner: 'alice',
    status: 'pending',
    customerId: 'c-1',
    items: [{ sku: 'SKU-1', quantity: 2 }],
    updatedAt: '2026-01-01T00:00:00.000Z',
    history: [{ event: 'orders.created', status: 'pending', at: '2026-01-01T00:00:00.000Z' }],
  }

  it('returns the projected status', async () => {
    const res = await get(
      appWith(fakeStore({ getOrder: () => Promise.resolve(record) })),
      `/orders/${ORDER_ID}`,
    )
    expect(res.status).toBe(200)
    expect(await res.json()).toStrictEqual(record)
  })

  it('reads an order id given in upper case as the same order, for GET and cancel', async () => {
    const asked: string[] = []
    const store = fakeStore({
      getOrder: (id) => (asked.push(id), Promise.resolve(id === ORDER_ID ? record : null)),
    })
    const res = await get(appWith(store), `/orders/${ORDER_ID.toUpperCase()}`)
    expect([res.status, await res.json()]).toStrictEqual([200, record])
    const cancel = await appWith(store).request(`/orders/${ORDER_ID.toUpperCase()}/cancel`, {
      method: 'POST',
      headers: bearer('alice'),
    })
    expect(cancel.status).toBe(202)
    expect(asked).toStrictEqual([ORDER_ID, ORDER_ID])
    expect(store.calls).toMatchObject([{ orderId: ORDER_ID }])
  })

  it('answers 404 not_found for an unknown order', async () => {
    const res = await get(appWith(fakeStore()), `/orders/${ORDER_ID}`)
    expect(res.status).toBe(404)
    expect(((await res.json()) as { error: string }).error).toBe('not_found')
  })

  it('answers 400 for a malformed id', async () => {
    const res = await get(appWith(fakeStore()), '/orders/not-a-uuid')
    expect(res.status).toBe(400)
  })

  describe('an order this instance published that the projection does not show yet', () => {
    const justPlaced = () =>
      fakeStore({
        recentlyPublished: (id) =>
          id === ORDER_ID
            ? { owner: 'alice', priority: 'express', correlationId: 'corr-placed', at: Date.now() }
            : undefined,
      })
    const cancel = (store: OrderStore, key: 'alice' | 'bob' | 'ops') =>
      appWith(store).request(`/orders/${ORDER_ID}/cancel`, { method: 'POST', headers: bearer(key) })

    it('is not readable yet to its owner and admin (503, Retry-After), and unknown to anyone else (404)', async () => {
      const store = justPlaced()
      for (const key of ['alice', 'ops'] as const) {
        const res = await appWith(store).request(`/orders/${ORDER_ID}`, { headers: bearer(key) })
        expect(res.status, key).toBe(503)
        expect(res.headers.get('Retry-After')).toBe('1')
        expect(await res.json()).toStrictEqual({
          error: 'unavailable',
          message: `order ${ORDER_ID} was accepted moments ago and cannot be read yet; retry shortly`,
        })
      }
      const other = await appWith(store).request(`/orders/${ORDER_ID}`, { headers: bearer('bob') })
      expect(other.status).toBe(404)
      // An id it did not publish is unknown, as before.
      const unknown = await get(appWith(store), '/orders/0192f1a2-7c1e-7b2a-9f00-abcdef012345')
      expect(unknown.status).toBe(404)
    })

    it("takes its owner's cancellation in the order's lane, with the order's correlation id", async () => {
      const store = justPlaced()
      const res = await cancel(store, 'alice')
      expect(res.status).toBe(202)
      expect(res.headers.get('Location')).toBe(`/orders/${ORDER_ID}`)
      expect(res.headers.get('X-Correlation-ID')).toBe('corr-placed')
      expect(await res.json()).toStrictEqual({
        orderId: ORDER_ID,
        status: 'pending',
        cancellation: 'requested',
        correlationId: 'corr-placed',
      })
      expect(store.calls).toMatchObject([
        { orderId: ORDER_ID, correlationId: 'corr-placed', requestedBy: 'alice', priority: 'express' },
      ])
      expect((await cancel(store, 'bob')).status).toBe(404)
      expect(store.calls).toHaveLength(1)
    })
  })
})

describe('a record built before its orders.created was projected (a projection that crashed holding it)', () => {
  // What the projection writes for a confirmed order whose creation is still
  // on its way: no owner, no items, the lane's priority.
  const partial: OrderStatus = {
    orderId: ORDER_ID,
    status: 'confirmed',
    priority: 'express',
    amountCents: 1250,
    chargeId: 'ch_1',
    updatedAt: '2026-01-01T00:00:01.000Z',
    history: [
      { event: 'inventory.reserved', status: 'reserved', at: '2026-01-01T00:00:00.500Z' },
      { event: 'payments.completed', status: 'confirmed', at: '2026-01-01T00:00:01.000Z' },
    ],
  }
  const store = () =>
    fakeStore({ getOrder: (_id, visible) => Promise.resolve(visible?.(partial) === false ? null : partial) })

  it("is unknown (404) to every client key, like another client's order: whose it is is not known yet", async () => {
    const s = store()
    for (const key of ['alice', 'bob'] as const) {
      const read = await appWith(s).request(`/orders/${ORDER_ID}`, { headers: bearer(key) })
      expect(read.status, key).toBe(404)
      const cancel = await appWith(s).request(`/orders/${ORDER_ID}/cancel`, {
        method: 'POST',
        headers: bearer(key),
      })
      expect(cancel.status, key).toBe(404)
    }
    expect(s.calls).toStrictEqual([])
  })

  it('shows it to an admin key as it is', async () => {
    const res = await appWith(store()).request(`/orders/${ORDER_ID}`, { headers: bearer('ops') })
    expect([res.status, await res.json()]).toStrictEqual([200, partial])
  })
})

describe('observability routes', () => {
  it('serves liveness, readiness and metrics', async () => {
    const app = appWith(fakeStore())
    await post(app, JSON.stringify(validOrder))
    expect((await app.request('/health')).status).toBe(200)
    expect((await app.request('/ready')).status).toBe(200)
    const metrics = await (await app.request('/metrics')).text()
    expect(metrics).toContain(
      'http_requests_total{method="POST",route="/orders",status="202",service="order"} 1',
    )
    expect(metrics).toContain('process_cpu_seconds_total')
  })

  it('reports not ready with the reason', async () => {
    const logger = createLogger({ service: 'order', level: 'silent' })
    const app = createApp({
      store: fakeStore(),
      logger,
      metrics: createMetrics('order'),
      checkReady: () => Promise.resolve({ ok: false, reason: 'not connected to NATS' }),
      verifier,
      limiter: limiter(),
    })
    const res = await app.request('/ready')
    expect(res.status).toBe(503)
    expect(await res.json()).toStrictEqual({ status: 'not_ready', reason: 'not connected to NATS' })
  })
})
