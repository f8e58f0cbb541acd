/**
 * Test fixture: the app body-limit.test.ts serves (a `limitBody` of `MAX`
 * bytes in front of a route that answers how many bytes of body it got).
 * Run by Bun (`bun shared/http/body-limit-fixture.ts`), it serves that app on
 * a free port and prints `port <n>`.
 */
import { Hono } from 'hono'
import { serveHttp } from '../runtime/server.ts'
import { limitBody } from './body-limit.ts'

export const MAX = 64

export function bodyBytesApp(): Hono {
  return new Hono()
    .use(limitBody(MAX))
    .post('/', async (c) => c.json({ bytes: new TextEncoder().encode(await c.req.text()).byteLength }))
}

if (import.meta.main) {
  const server = await serveHttp({ fetch: bodyBytesApp().fetch, port: 0, hostname: '127.0.0.1' })
  console.log(`port ${server.port}`)
}
