import { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { describe, expect, it } from 'vitest'
import { HEAD_BODY_READ_MS, headAsGet } from './head.ts'

function app() {
  const app = new Hono()
  app.use(headAsGet)
  app.use(async (c, next) => {
    await next()
    c.header('X-Correlation-ID', 'corr-1')
  })
  app.get('/order', (c) => c.json({ orderId: 'ö-1', status: 'pending' }))
  app.get('/empty', (c) => c.body(null, 204))
  app.get('/events', (c) =>
    streamSSE(c, async (stream) => {
      await stream.writeSSE({ data: 'one' })
      await stream.sleep(60_000)
    }),
  )
  app.get('/slow', () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('partial'))
      },
    })
    return new Response(body, { headers: { 'Content-Type': 'text/plain' } })
  })
  return app
}

describe('HEAD as GET', () => {
  it("answers GET's status and headers, its body's length in bytes and a date, without the body", async () => {
    const get = await app().request('/order')
    const bytes = (await get.arrayBuffer()).byteLength
    const head = await app().request('/order', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('Content-Length')).toBe(String(bytes))
    expect(head.headers.get('Content-Type')).toBe(get.headers.get('Content-Type'))
    expect(head.headers.get('X-Correlation-ID')).toBe('corr-1')
    expect(Date.parse(head.headers.get('Date') ?? '')).not.toBeNaN()
    expect(await head.text()).toBe('')
  })

  it('leaves GET alone, and a body-less answer without a length', async () => {
    const get = await app().request('/order')
    expect(get.headers.get('Date')).toBeNull()
    expect(await get.json()).toStrictEqual({ orderId: 'ö-1', status: 'pending' })
    const empty = await app().request('/empty', { method: 'HEAD' })
    expect([empty.status, empty.headers.get('Content-Length')]).toStrictEqual([204, null])
  })

  it('does not wait on a stream', async () => {
    const started = Date.now()
    const head = await app().request('/events', { method: 'HEAD' })
    expect(head.headers.get('Content-Type')).toBe('text/event-stream')
    expect(head.headers.get('Content-Length')).toBeNull()
    expect(head.headers.get('Transfer-Encoding')).toBe('chunked')
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('gives up measuring a body that does not end in time, and says no length', async () => {
    const started = Date.now()
    const head = await app().request('/slow', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('Content-Length')).toBeNull()
    expect(head.headers.get('Transfer-Encoding')).toBe('chunked')
    expect(Date.now() - started).toBeGreaterThanOrEqual(HEAD_BODY_READ_MS - 50)
    expect(Date.now() - started).toBeLessThan(HEAD_BODY_READ_MS + 1_000)
  })
})
