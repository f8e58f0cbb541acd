import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { createErrorHandler, notFound } from './errors.ts'
import { headAsGet } from './head.ts'
import { securityHeaders } from './security-headers.ts'

const EXPECTED = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
}
const securityOf = (res: Response) =>
  Object.fromEntries(Object.keys(EXPECTED).map((name) => [name, res.headers.get(name)]))

function app(): Hono {
  const app = new Hono()
  app.use(headAsGet)
  app.use(securityHeaders)
  app.get('/ok', (c) => c.json({ ok: true }))
  app.get('/boom', () => {
    throw new Error('boom')
  })
  app.get('/own', (c) => c.text('own', 200, { 'Referrer-Policy': 'same-origin' }))
  app.notFound(notFound)
  app.onError(createErrorHandler({ logger: { error: () => undefined, debug: () => undefined } }))
  return app
}

describe('securityHeaders', () => {
  it('marks every answer: a route, a 404 that echoes its path, a 500, and HEAD', async () => {
    const a = app()
    for (const [path, method, status] of [
      ['/ok', 'GET', 200],
      ['/%3Csvg%20onload=alert(1)%3E', 'GET', 404],
      ['/boom', 'GET', 500],
      ['/ok', 'HEAD', 200],
    ] as const) {
      const res = await a.request(path, { method })
      expect([path, method, res.status, securityOf(res)]).toStrictEqual([path, method, status, EXPECTED])
    }
  })

  it('keeps a header the route set itself', async () => {
    const res = await app().request('/own')
    expect(res.headers.get('referrer-policy')).toBe('same-origin')
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
  })
})
