// The edge entry (Workers `fetch(request, env, ctx)`) authenticates like the
// other runtimes: API_KEYS from the Worker's vars and secrets. NATS is
// unreachable here, so an authenticated order gets as far as the 503.
import { describe, expect, it, vi } from 'vitest'
import { bearer, testApiKeysSetting } from '../../shared/http/api-keys-fixture.ts'
import { generateSealingKeyPair } from '../../shared/security/sealed-token.ts'
import edge from './edge.ts'
import { loadEdgeOrderConfig } from './edge-config.ts'

const order = { customerId: 'c-1', items: [{ sku: 'SKU-1', quantity: 1 }], paymentToken: 'tok_ok' }
const env = {
  NATS_URL: 'ws://127.0.0.1:9',
  NATS_REQUEST_TIMEOUT_MS: '200',
  LOG_LEVEL: 'silent',
  PAYMENT_TOKEN_PUBLIC_KEY: JSON.stringify((await generateSealingKeyPair()).publicJwk),
  API_KEYS: await testApiKeysSetting(),
  RATE_LIMIT_PER_SECOND: '1',
  RATE_LIMIT_BURST: '2',
}
const ctx = { waitUntil: (p: Promise<unknown>) => void p.catch(() => undefined) }

const post = (headers: Record<string, string>, from = '203.0.113.9') =>
  edge.fetch(
    new Request('https://intake.example/orders', {
      method: 'POST',
      body: JSON.stringify(order),
      headers: { 'Content-Type': 'application/json', 'CF-Connecting-IP': from, ...headers },
    }),
    env,
    ctx,
  )

describe('order intake at the edge', () => {
  it('answers 401 without a key and 401 invalid_token with a wrong one', async () => {
    const none = await post({})
    const wrong = await post({ Authorization: 'Bearer sk_wrong' }, '203.0.113.10')
    expect([none.status, wrong.status]).toStrictEqual([401, 401])
    expect(wrong.headers.get('WWW-Authenticate')).toBe('Bearer realm="order-saga", error="invalid_token"')
  })

  it('takes a valid key (then finds NATS down: 503) and rate-limits it per isolate', async () => {
    const first = await post(bearer('bob'))
    const second = await post(bearer('bob'))
    const third = await post(bearer('bob'))
    expect([first.status, second.status, third.status]).toStrictEqual([503, 503, 429])
    expect(Number(third.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1)
  })

  it('limits failed attempts by CF-Connecting-IP', async () => {
    const statuses = []
    for (let i = 0; i < 3; i++)
      statuses.push((await post({ Authorization: `Bearer g${i}` }, '198.51.100.7')).status)
    expect(statuses).toStrictEqual([401, 401, 429])
  })

  it('limits failed attempts of requests without CF-Connecting-IP (wrangler dev) in one bucket', async () => {
    const statuses = []
    for (let i = 0; i < 3; i++) {
      const request = new Request('https://intake.example/orders/x', {
        headers: { Authorization: `Bearer n${i}` },
      })
      statuses.push((await edge.fetch(request, env, ctx)).status)
    }
    expect(statuses).toStrictEqual([401, 401, 429])
  })

  it('answers GET / with its index, without a key', async () => {
    const res = await edge.fetch(new Request('https://intake.example/'), env, ctx)
    expect(await res.json()).toMatchObject({
      service: 'order-edge',
      routes: expect.arrayContaining(['POST /orders']),
    })
  })

  it('is misconfigured (500, logged) with RECORD_KEYS that lack one of its two buckets', async () => {
    const key = 'A'.repeat(43)
    const res = await edge.fetch(
      new Request('https://intake.example/orders', { method: 'POST', body: '{}', headers: bearer('bob') }),
      { ...env, RECORD_KEYS: `order-status:${key}` },
      ctx,
    )
    expect([res.status, ((await res.json()) as { error: string }).error]).toStrictEqual([
      500,
      'misconfigured',
    ])
  })

  it('is misconfigured (500, logged) with NATS_USER and no NATS_PASSWORD, or the other way round', async () => {
    for (const half of [{ NATS_USER: 'edge' }, { NATS_PASSWORD: 'secret-half' }]) {
      const res = await edge.fetch(new Request('https://intake.example/health'), { ...env, ...half }, ctx)
      const body = await res.text()
      expect([res.status, (JSON.parse(body) as { error: string }).error]).toStrictEqual([
        500,
        'misconfigured',
      ])
      expect(body).not.toContain('secret-half')
      expect(res.headers.get('X-Content-Type-Options')).toBe('nosniff')
    }
    expect(() => loadEdgeOrderConfig({ ...env, NATS_USER: 'edge' })).toThrow(
      /NATS_USER is set without NATS_PASSWORD: set both, or neither/,
    )
  })

  it('is misconfigured (500, logged) without API_KEYS', async () => {
    const { API_KEYS: _, ...withoutKeys } = env
    const res = await edge.fetch(new Request('https://intake.example/health'), withoutKeys, ctx)
    expect([res.status, ((await res.json()) as { error: string }).error]).toStrictEqual([
      500,
      'misconfigured',
    ])
  })
})

describe('the edge log', () => {
  it('says NATS is unavailable, and readiness failed, at warn once a minute per isolate, not per request', async () => {
    const lines = vi.spyOn(console, 'log').mockImplementation(() => undefined)
    try {
      const said = (message: string) =>
        lines.mock.calls
          .map(([line]) => JSON.parse(String(line)) as { level: string; msg: string })
          .filter((line) => line.msg === message)
          .map((line) => line.level)
      // A new env object is a new isolate; keys not limited within this test.
      const fresh = { ...env, LOG_LEVEL: 'debug', RATE_LIMIT_BURST: '20' }
      const placed = []
      for (let i = 0; i < 3; i++) {
        const request = new Request('https://intake.example/orders', {
          method: 'POST',
          body: JSON.stringify(order),
          headers: { 'Content-Type': 'application/json', ...bearer('bob') },
        })
        placed.push((await edge.fetch(request, fresh, ctx)).status)
      }
      expect(placed).toStrictEqual([503, 503, 503])
      expect(said('NATS unavailable; answering 503')).toStrictEqual(['warn', 'debug', 'debug'])
      const ready = () => edge.fetch(new Request('https://intake.example/ready'), fresh, ctx)
      expect((await ready()).status).toBe(503)
      // Past the readiness answer's second: a second check, said at debug.
      await new Promise((resolve) => setTimeout(resolve, 1_100))
      expect((await ready()).status).toBe(503)
      expect(said('readiness: NATS unreachable')).toStrictEqual(['warn', 'debug'])
    } finally {
      lines.mockRestore()
    }
  })

  it('names the setting that is wrong when misconfigured', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined)
    try {
      const key = 'A'.repeat(43)
      const { API_KEYS: _, ...withoutKeys } = env
      for (const [broken, named] of [
        [{ ...env, RECORD_KEYS: `order-status:${key}` }, /RECORD_KEYS/],
        [withoutKeys, /API_KEYS/],
      ] as const) {
        errors.mockClear()
        expect((await edge.fetch(new Request('https://intake.example/health'), broken, ctx)).status).toBe(500)
        const logged = errors.mock.calls.map(
          ([line]) => JSON.parse(String(line)) as { msg: string; problems: string[] },
        )
        expect(logged).toMatchObject([{ msg: 'invalid configuration' }])
        expect(logged[0]?.problems.join('\n')).toMatch(named)
      }
    } finally {
      errors.mockRestore()
    }
  })
})

describe('readiness at the edge', () => {
  it('runs one NATS check for a burst of /ready probes, and answers from it for a second', async () => {
    // Each check that runs opens a connection (NATS is unreachable here) and logs that it
    // failed: at warn once a minute, at debug the others, so debug shows every one.
    const lines = vi.spyOn(console, 'log').mockImplementation(() => undefined)
    try {
      const checks = () =>
        lines.mock.calls.filter(([line]) => String(line).includes('readiness: NATS unreachable')).length
      // A new env object is a new isolate, with nothing cached.
      const fresh = { ...env, LOG_LEVEL: 'debug' }
      const ready = () => edge.fetch(new Request('https://intake.example/ready'), fresh, ctx)
      const statuses = await Promise.all(Array.from({ length: 25 }, async () => await ready()))
      expect(statuses.map((r) => r.status)).toStrictEqual(Array.from({ length: 25 }, () => 503))
      expect(checks()).toBe(1)
      expect((await ready()).status).toBe(503)
      expect(checks()).toBe(1)
    } finally {
      lines.mockRestore()
    }
  })
})
