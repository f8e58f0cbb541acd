import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import { createNatsConsoleData } from './console-data.ts'
import type { LiveOrders } from './live.ts'

const ORDER = '019ae5a0-5b3c-7d2e-8f10-123456789abc'

/** The console's data with only the order service's fetch in play. */
function withFetch(fetchFn: (url: string | URL | Request, init?: RequestInit) => Promise<Response>) {
  return createNatsConsoleData({
    js: {} as JetStreamClient,
    nc: {} as NatsConnection,
    jsm: {} as JetStreamManager,
    statusKv: {} as KV,
    live: {} as LiveOrders,
    orderUrl: 'http://order.test',
    paymentUrl: 'http://payment.test',
    timeoutMs: 50,
    fetchFn: Object.assign(fetchFn, { preconnect: fetch.preconnect }),
  })
}

describe('the console cancel action', () => {
  it("sends the operator's trace and correlation id on, so the cancellation is one trace with the operator's action", async () => {
    const sent: Headers[] = []
    const data = withFetch((_url, init) => {
      sent.push(new Headers(init?.headers))
      return Promise.resolve(Response.json({ cancellation: 'requested' }, { status: 202 }))
    })
    const trace = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), sampled: true }
    await data.cancelOrder(ORDER, 'Bearer k', { trace, correlationId: 'ops-1' })
    await data.cancelOrder(ORDER, 'Bearer k')
    expect(
      sent.map((h) => [h.get('traceparent'), h.get('X-Correlation-ID'), h.get('Authorization')]),
    ).toStrictEqual([
      [`00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, 'ops-1', 'Bearer k'],
      [null, null, 'Bearer k'],
    ])
  })

  it('passes the order service answer through', async () => {
    const data = withFetch(() =>
      Promise.resolve(Response.json({ cancellation: 'requested' }, { status: 202 })),
    )
    expect(await data.cancelOrder(ORDER, 'Bearer k')).toStrictEqual({
      status: 202,
      body: { cancellation: 'requested' },
    })
  })

  it("passes its 500 (invalid_record) and its 429's Retry-After on, and calls any other status its not answering", async () => {
    const invalid = { error: 'invalid_record', message: 'retrying will not help' }
    expect(
      await withFetch(() => Promise.resolve(Response.json(invalid, { status: 500 }))).cancelOrder(
        ORDER,
        'Bearer k',
      ),
    ).toStrictEqual({ status: 500, body: invalid })
    const limited = Response.json({ error: 'rate_limited' }, { status: 429, headers: { 'Retry-After': '3' } })
    expect(await withFetch(() => Promise.resolve(limited)).cancelOrder(ORDER, 'Bearer k')).toStrictEqual({
      status: 429,
      body: { error: 'rate_limited' },
      retryAfter: '3',
    })
    const proxy = new Response('bad gateway', { status: 502 })
    expect(await withFetch(() => Promise.resolve(proxy)).cancelOrder(ORDER, 'Bearer k')).toStrictEqual({
      status: 503,
      body: { error: 'unreadable_answer' },
    })
    const proxyFault = new Response('<html>oops</html>', { status: 500 })
    expect(await withFetch(() => Promise.resolve(proxyFault)).cancelOrder(ORDER, 'Bearer k')).toMatchObject({
      status: 503,
    })
  })

  it('says the cancellation may have been requested when the order service took it and did not answer', async () => {
    const data = withFetch(() => Promise.reject(new DOMException('The operation timed out.', 'TimeoutError')))
    const answer = await data.cancelOrder(ORDER, 'Bearer k')
    expect(answer.status).toBe(503)
    expect(answer.body).toStrictEqual({
      error: 'unavailable',
      message:
        'the order service did not answer (TimeoutError); the cancellation may have been requested: read the order, or cancel again (cancelling twice is safe)',
    })
  })

  it("waits a little past its own NATS deadline, so the order service's answer to the same outage comes first", async () => {
    // The order service gives up on its NATS work after the same 50 ms and answers 503 just after.
    const outage = { error: 'unavailable', message: 'cannot reach its message bus; retry shortly' }
    const data = withFetch(
      (_url, init) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(
            () => resolve(Response.json(outage, { status: 503, headers: { 'Retry-After': '1' } })),
            150,
          )
          init?.signal?.addEventListener('abort', () => {
            clearTimeout(timer)
            reject(new DOMException('The operation timed out.', 'TimeoutError'))
          })
        }),
    )
    expect(await data.cancelOrder(ORDER, 'Bearer k')).toStrictEqual({
      status: 503,
      body: outage,
      retryAfter: '1',
    })
  })

  it('says nothing was requested when the order service refused the connection', async () => {
    const refused = Object.assign(new TypeError('Unable to connect'), { code: 'ECONNREFUSED' })
    const data = withFetch(() => Promise.reject(refused))
    expect(await data.cancelOrder(ORDER, 'Bearer k')).toStrictEqual({
      status: 503,
      body: {
        error: 'unavailable',
        message: 'the order service could not be reached; nothing was requested, retry shortly',
      },
    })
  })
})
