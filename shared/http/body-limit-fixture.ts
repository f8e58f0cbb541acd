/**
 * Test fixture: the app body-limit.test.ts serves (a `limitBody` of `MAX`
 * bytes in front of a route that answers how many bytes of body it got, and
 * a GET route).
 * Run by Bun (`bun shared/http/body-limit-fixture.ts`), it serves that app on
 * a free port and prints `port <n>`.
 */
import { Hono } from 'hono'
import { serveHttp } from '../runtime/server.ts'
import { createLogger } from '../observability/logger.ts'
import { bodyText, limitBody } from './body-limit.ts'
import { createErrorHandler } from './errors.ts'

export const MAX = 64
/** How long a body may take to arrive here (the services: BODY_READ_MS). */
export const READ_MS = 500

export function bodyBytesApp(): Hono {
  const app = new Hono()
    .use(limitBody(MAX, { readMs: READ_MS }))
    .post('/', async (c) =>
      c.json({ bytes: new TextEncoder().encode(await bodyText(c, READ_MS)).byteLength }),
    )
    .get('/', (c) => c.json({ got: 'GET' }))
  app.onError(createErrorHandler({ logger: createLogger({ service: 'fixture', level: 'silent' }) }))
  return app
}

if (import.meta.main) {
  const server = await serveHttp({ fetch: bodyBytesApp().fetch, port: 0, hostname: '127.0.0.1' })
  console.log(`port ${server.port}`)
}
