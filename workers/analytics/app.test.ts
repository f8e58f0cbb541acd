import { describe, expect, it } from 'vitest'
import { bearer, createTestVerifier } from '../../shared/http/api-keys-fixture.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import { createAnalyticsMetrics } from './analytics-metrics.ts'
import type { OpenApiDocument } from '../../shared/http/openapi.ts'
import {
  createContract,
  documentedRoutes,
  openApiProblems,
  servedRoutes,
} from '../../test/support/openapi-contract.ts'
import { createAnalyticsApp, GenerationGoneError, type SummaryRange } from './app.ts'
import { KvRecordError } from '../../shared/nats/kv-json.ts'
import { createWindowFeed } from './feed.ts'
import { createLiveApplier } from './handlers.ts'
import { analyticsOpenApi } from './openapi.ts'
import type { WindowRecord } from './records.ts'
import { mergeWindows, toTotals, toWindowView } from './summary.ts'
import { addContribution, emptyWindow } from './windows.ts'

const NOW = new Date('2026-01-01T10:30:20Z')
const MINUTE = Date.parse('2026-01-01T10:05:00Z')

async function setup({
  maxClients = 2,
  failWith,
  maxRangeMs = 24 * 3_600_000,
}: { maxClients?: number; failWith?: Error; maxRangeMs?: number } = {}) {
  const metrics = createMetrics('analytics')
  const feed = createWindowFeed({ maxClients })
  const asked: SummaryRange[] = []
  const window = addContribution(emptyWindow(MINUTE), { minute: MINUTE, created: true }, 3) as WindowRecord
  const app = createAnalyticsApp({
    logger: createLogger({ service: 'analytics', level: 'silent' }),
    metrics,
    checkReady: () => Promise.resolve({ ok: true }),
    verifier: await createTestVerifier(),
    limiter: createRateLimiter({ perSecond: 100, burst: 100 }),
    feed,
    maxRangeMs,
    streamIntervalMs: 10,
    heartbeatMs: 1_000,
    now: () => NOW,
    summarize: (range) => {
      asked.push(range)
      if (failWith !== undefined) return Promise.reject(failWith)
      return Promise.resolve({
        from: new Date(range.fromMinute).toISOString(),
        to: new Date(range.toMinute).toISOString(),
        generation: 'g1',
        totals: toTotals(mergeWindows([window]), range.top),
        windows: [toWindowView(window, range.top)],
      })
    },
  })
  return { app, feed, asked, metrics }
}

const get = (
  app: Awaited<ReturnType<typeof setup>>['app'],
  path: string,
  key: 'ops' | 'alice' | null = 'ops',
) => app.request(path, { headers: key === null ? {} : bearer(key) })

describe('GET /analytics/summary', () => {
  it('without from, covers the hour before to, or the longest range allowed when shorter', async () => {
    const range = async (maxRangeMs: number) => {
      const { app, asked } = await setup({ maxRangeMs })
      const res = await get(app, '/analytics/summary')
      expect(res.status).toBe(200)
      const [{ fromMinute, toMinute } = { fromMinute: 0, toMinute: 0 }] = asked
      return (toMinute - fromMinute) / 60_000
    }
    expect(await range(24 * 3_600_000)).toBe(60)
    expect(await range(10 * 60_000)).toBe(10)
    expect(await range(90_000)).toBe(1)
  })

  it('wants an admin key: 401 without one, 403 with a client key', async () => {
    const { app } = await setup()
    expect((await get(app, '/analytics/summary', null)).status).toBe(401)
    expect((await get(app, '/analytics/summary', 'alice')).status).toBe(403)
    expect((await get(app, '/analytics/summary')).status).toBe(200)
  })

  it('marks its answers, 401s and 404s with the security headers', async () => {
    const { app } = await setup()
    for (const [path, key] of [
      ['/analytics/summary', 'ops'],
      ['/analytics/summary', null],
      ['/nope', null],
    ] as const) {
      const res = await get(app, path, key)
      expect([
        path,
        key,
        res.headers.get('x-content-type-options'),
        res.headers.get('x-frame-options'),
      ]).toStrictEqual([path, key, 'nosniff', 'DENY'])
      expect(res.headers.get('referrer-policy')).toBe('no-referrer')
    }
  })

  it('answers the range aligned to minutes: from rounded down, to rounded up (exclusive)', async () => {
    const { app, asked } = await setup()
    const res = await get(app, '/analytics/summary?from=2026-01-01T10:05:30Z&to=2026-01-01T10:07:01Z&top=3')
    expect(res.status).toBe(200)
    expect(asked).toStrictEqual([
      { fromMinute: MINUTE, toMinute: Date.parse('2026-01-01T10:08:00Z'), top: 3 },
    ])
    const body = (await res.json()) as { totals: { created: number }; windows: { minute: string }[] }
    expect(body.totals.created).toBe(1)
    expect(body.windows.map((w) => w.minute)).toStrictEqual(['2026-01-01T10:05:00.000Z'])
  })

  it('defaults to the hour up to the current minute, included', async () => {
    const { app, asked } = await setup()
    expect((await get(app, '/analytics/summary')).status).toBe(200)
    expect(asked).toStrictEqual([
      {
        fromMinute: Date.parse('2026-01-01T09:31:00Z'),
        toMinute: Date.parse('2026-01-01T10:31:00Z'),
        top: 10,
      },
    ])
  })

  it.each([
    ['from=&to=', '2026-01-01T09:31:00Z', '2026-01-01T10:31:00Z'],
    ['from=2026-01-01&to=2026-01-01T10:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T10:00:00Z'],
    [`from=${Date.parse('2026-01-01T10:05:30Z')}&to=`, '2026-01-01T10:05:00Z', '2026-01-01T10:31:00Z'],
    [
      'from=2026-01-01T10:05:00%2B01:00&to=2026-01-01T10:00:00Z',
      '2026-01-01T09:05:00Z',
      '2026-01-01T10:00:00Z',
    ],
    // The hour before `to` stops at 1970.
    ['to=1970-01-01T00:30:00Z', '1970-01-01T00:00:00Z', '1970-01-01T00:30:00Z'],
    // 24 h on whole minutes: the longest range (within a minute it is too long, below).
    ['from=2026-01-01T10:00:00Z&to=2026-01-02T10:00:00Z', '2026-01-01T10:00:00Z', '2026-01-02T10:00:00Z'],
    // 0: the start.
    ['from=0&to=1970-01-01T00:30:00Z', '1970-01-01T00:00:00Z', '1970-01-01T00:30:00Z'],
  ])(
    'reads %s as %s to %s (empty: not given; a date is its UTC midnight; epoch ms)',
    async (query, from, to) => {
      const { app, asked } = await setup()
      expect((await get(app, `/analytics/summary?${query}`)).status).toBe(200)
      expect(asked).toStrictEqual([{ fromMinute: Date.parse(from), toMinute: Date.parse(to), top: 10 }])
    },
  )

  it.each([
    ['from=yesterday', 'invalid_query'],
    ['from=2026-13-01', 'invalid_query'],
    ['from=2026-02-30', 'invalid_query'],
    ['from=2026-01-01T10:00:00Z&to=2026-01-01T09:00:00Z', 'invalid_range'],
    // In one minute: refused before the two are rounded to whole minutes.
    ['from=2026-01-01T10:00:40Z&to=2026-01-01T10:00:20Z', 'invalid_range'],
    ['from=2026-01-01T10:00:20Z&to=2026-01-01T10:00:20Z', 'invalid_range'],
    ['from=9999-12-31T23:59:00Z', 'invalid_range'],
    // A date written without dashes, and epoch seconds, are not read as milliseconds in 1970.
    ['from=20261206&to=20261207', 'invalid_query'],
    [`from=${Math.floor(Date.parse('2026-01-01T10:00:00Z') / 1000)}`, 'invalid_query'],
    ['to=1970-01-01T00:00:00Z', 'invalid_range'],
    ['from=2025-12-01T00:00:00Z&to=2026-01-01T00:00:00Z', 'range_too_long'],
    ['top=0', 'invalid_query'],
    ['top=101', 'invalid_query'],
    ['form=2026-01-01T10:00:00Z', 'invalid_query'],
    ['=1', 'invalid_query'],
    ['bogus=', 'invalid_query'],
    ['from=2026-01-01T10:00:00Z&=x', 'invalid_query'],
    ['from=2026-02-30T00:00:00Z&to=2026-03-05T00:00:00Z', 'invalid_query'],
    ['from=2026-01-01T10:00:00Z&to=2026-01-01T11:00:00Z&from=2026-01-01T09:00:00Z', 'invalid_query'],
    // Past the year 9999 a minute has no window key: refused, not a 500.
    ['to=999999999999999', 'invalid_query'],
    ['from=253402300800000', 'invalid_query'],
    // isoTimestamp lets `+01` through; the runtime cannot read it.
    ['from=2026-01-01T10:00:00%2B01', 'invalid_query'],
  ])('refuses %s with 400 %s', async (query, error) => {
    const { app, asked } = await setup()
    const res = await get(app, `/analytics/summary?${query}`)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error, message: expect.any(String) })
    expect(asked).toStrictEqual([])
  })

  it.each([
    // No `from` was sent: the message speaks of what was.
    [
      'to=1970-01-01T00:00:00Z',
      'invalid_range',
      'to must be after 1970-01-01T00:00:00Z (from, when not given)',
    ],
    ['from=2026-01-01T10:00:00Z&to=2026-01-01T09:00:00Z', 'invalid_range', 'from must be before to'],
    // 24 h from within a minute reads 1,441 whole minutes; from the minute, 1,440 (above).
    [
      'from=2026-01-01T10:00:30Z&to=2026-01-02T10:00:30Z',
      'range_too_long',
      'a summary covers at most 1440 minutes (ANALYTICS_SUMMARY_MAX_RANGE_MS)',
    ],
  ])('refuses %s with 400 %s saying %j', async (query, error, message) => {
    const { app } = await setup()
    const res = await get(app, `/analytics/summary?${query}`)
    expect(res.status).toBe(400)
    expect(await res.json()).toStrictEqual({ error, message })
  })

  it('answers 503 when its windows are no longer the active generation, saying what to do', async () => {
    const gone = new GenerationGoneError('no active generation: restart with ANALYTICS_REPLAY_FROM')
    const { app } = await setup({ failWith: gone })
    const res = await get(app, '/analytics/summary')
    expect(res.status).toBe(503)
    expect(await res.json()).toStrictEqual({ error: 'unavailable', message: gone.message })
  })

  it('answers 500 naming the record when a window fails its check, and how to rebuild it', async () => {
    const { app } = await setup({ failWith: new KvRecordError('w.g1.202601011005 holds an invalid record') })
    const res = await get(app, '/analytics/summary')
    expect(res.status).toBe(500)
    const body = (await res.json()) as { error: string; message: string }
    expect(body.error).toBe('internal')
    expect(body.message).toContain('w.g1.202601011005')
    expect(body.message).toContain('ANALYTICS_REPLAY_FROM')
  })
})

describe('GET /analytics/stream', () => {
  it('sends each window a worker changed as a `window` event', async () => {
    const { app, feed, metrics } = await setup()
    const res = await get(app, '/analytics/stream')
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Type')).toMatch(/^text\/event-stream/)
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const apply = createLiveApplier({
      store: {
        record: () => Promise.resolve({ minute: MINUTE, created: true }),
        apply: (_g, c, seq) => Promise.resolve(addContribution(emptyWindow(c.minute), c, seq)),
      },
      generation: 'g1',
      metrics: createAnalyticsMetrics(metrics),
      feed,
    })
    await apply({ kind: 'created', orderId: 'x', at: MINUTE, items: [] }, 9)
    let text = ''
    const decoder = new TextDecoder()
    while (!text.includes('event: window')) {
      const { value, done } = await reader.read()
      if (done) break
      text += decoder.decode(value)
    }
    expect(text).toContain('event: ready')
    const block = text.split('\n\n').find((b) => b.includes('event: window')) ?? ''
    expect(block).toContain('id: 1')
    const data = /^data: (.*)$/m.exec(block)?.[1] ?? '{}'
    expect(JSON.parse(data)).toMatchObject({ minute: '2026-01-01T10:05:00.000Z', created: 1 })
    await reader.cancel()
    expect(await metrics.registry.getSingleMetricAsString('analytics_events_total')).toContain(
      'analytics_events_total{kind="created",outcome="applied",service="analytics"} 1',
    )
  })

  it('answers 503 beyond the client cap, and ends every stream when the feed closes', async () => {
    const { app, feed } = await setup({ maxClients: 1 })
    const first = await get(app, '/analytics/stream')
    expect(first.status).toBe(200)
    const second = await get(app, '/analytics/stream')
    expect(second.status).toBe(503)
    expect(second.headers.get('Retry-After')).toBe('5')
    expect(((await second.json()) as { message: string }).message).toContain('too many stream clients')
    feed.close()
    const text = await first.text()
    expect(text).toContain('event: ready')
    // Closed at shutdown: the reason is the stop, not the cap.
    const late = await get(app, '/analytics/stream')
    expect(late.status).toBe(503)
    expect(await late.json()).toStrictEqual({
      error: 'unavailable',
      message: 'the service is stopping; retry shortly',
    })
  })

  it('answers HEAD with the headers only, holding no client place', async () => {
    const { app } = await setup({ maxClients: 1 })
    for (let i = 0; i < 3; i++) {
      const head = await app.request('/analytics/stream', { method: 'HEAD', headers: bearer('ops') })
      expect(head.status).toBe(200)
      expect(head.headers.get('Content-Type')).toBe('text/event-stream')
      expect(await head.text()).toBe('')
    }
    const stream = await get(app, '/analytics/stream')
    expect(stream.status).toBe(200)
    await stream.body?.cancel()
  })

  it('refuses query parameters: it takes none', async () => {
    const { app } = await setup()
    const res = await get(app, '/analytics/stream?from=2026-01-01T00:00:00Z')
    expect(res.status).toBe(400)
    expect(await res.json()).toStrictEqual({
      error: 'invalid_query',
      message: '"from": the stream takes no query parameters',
    })
    for (const query of ['?=', '?=1', '?&', '?x']) {
      const other = await get(app, `/analytics/stream${query}`)
      expect([query, other.status]).toStrictEqual([query, 400])
      await other.body?.cancel()
    }
  })

  it('drops a client that stops reading, giving its place back', async () => {
    const { app } = await setup({ maxClients: 1 })
    const idle = await get(app, '/analytics/stream')
    expect(idle.status).toBe(200)
    // Its body is never read: a write waits past the deadline (the heartbeat, 1 s here).
    expect((await get(app, '/analytics/stream')).status).toBe(503)
    const deadline = Date.now() + 5_000
    let next = await get(app, '/analytics/stream')
    while (next.status === 503 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      next = await get(app, '/analytics/stream')
    }
    expect(next.status).toBe(200)
    await next.body?.cancel()
  })
})

describe('the rest of the surface', () => {
  it('serves GET /, /health, /ready and /metrics without a key', async () => {
    const { app } = await setup()
    const index = await get(app, '/', null)
    expect(await index.json()).toMatchObject({
      service: 'analytics',
      routes: expect.arrayContaining(['GET /analytics/summary', 'GET /analytics/stream']),
    })
    for (const path of ['/health', '/ready', '/metrics'])
      expect((await get(app, path, null)).status).toBe(200)
  })

  it('refuses a body over the limit', async () => {
    const { app } = await setup()
    const res = await app.request('/analytics/summary', {
      method: 'GET',
      headers: { ...bearer('ops'), 'Content-Length': String(1024 * 1024) },
    })
    expect(res.status).toBe(413)
  })
})

describe('the OpenAPI document', () => {
  it('is served at /openapi.json, valid OpenAPI 3.1, and lists exactly the routes served', async () => {
    const { app } = await setup()
    const served = (await (await get(app, '/openapi.json', null)).json()) as OpenApiDocument
    expect(served).toStrictEqual(JSON.parse(JSON.stringify(analyticsOpenApi())))
    expect(await openApiProblems(served)).toStrictEqual([])
    expect(servedRoutes(app)).toStrictEqual(documentedRoutes(served))
  })

  it('describes what the routes answer', async () => {
    const { app, feed } = await setup({ maxClients: 1 })
    const contract = createContract(analyticsOpenApi())
    const send = (path: string, key: 'ops' | 'alice' | null = 'ops') =>
      contract.request(app, path, { headers: key === null ? {} : bearer(key) })
    expect((await send('/analytics/summary')).status).toBe(200)
    expect(
      (await send('/analytics/summary?from=2026-01-01T10:00:00Z&to=2026-01-01T10:10:00Z&top=3')).status,
    ).toBe(200)
    for (const query of [
      'top=0',
      'from=yesterday',
      'from=2026-01-01T10:10:00Z&to=2026-01-01T10:00:00Z',
      'x=1',
    ])
      expect((await send(`/analytics/summary?${query}`)).status).toBe(400)
    expect((await send('/analytics/summary', null)).status).toBe(401)
    expect((await send('/analytics/summary', 'alice')).status).toBe(403)
    for (const path of ['/', '/health', '/ready', '/openapi.json'])
      expect((await send(path, null)).status).toBe(200)
    expect((await get(app, '/nowhere', null)).status).toBe(404)
    // The stream's answers (its body never ends: read only its head).
    const first = await app.request('/analytics/stream', { headers: bearer('ops') })
    expect([first.status, first.headers.get('Content-Type')?.split(';')[0]]).toStrictEqual([
      200,
      'text/event-stream',
    ])
    expect((await send('/analytics/stream')).status).toBe(503)
    feed.close()
    await first.text()
  })
})
