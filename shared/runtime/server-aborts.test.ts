// Real sockets against a real listening server (Node's, through
// @hono/node-server, as the Node build runs): bodies cut off, bad chunked
// framing and oversized uploads are never a 500 nor an `unhandled error`.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { waitFor } from '../../test/harness/wait-for.ts'
import { createObservabilityApp } from '../http/observability-app.ts'
import { swaggerUiAssets } from '../http/swagger-ui-assets.ts'
import { chunk, rawExchange, requestHead } from '../http/raw-http-fixture.ts'
import { createLogger } from '../observability/logger.ts'
import { createMetrics } from '../observability/metrics.ts'
import { serveHttp, type HttpServer } from './server.ts'

const lines: string[] = []
const metrics = createMetrics('abort-test')
let server: HttpServer
const consoleError = vi.spyOn(console, 'error')

beforeAll(async () => {
  const app = createObservabilityApp({
    docsAssets: swaggerUiAssets,
    service: 'abort-test',
    metrics,
    logger: createLogger({
      service: 'abort-test',
      level: 'debug',
      destination: { write: (l) => lines.push(l) },
    }),
    checkReady: () => Promise.resolve({ ok: true }),
    maxBodyBytes: 16 * 1024,
  })
  // A route that reads its body, as the order and stock routes do.
  app.post('/echo', async (c) => c.text(await c.req.text()))
  server = await serveHttp({ fetch: (request) => app.fetch(request), port: 0, hostname: '127.0.0.1' })
})

afterAll(async () => {
  consoleError.mockRestore()
  await server?.close()
})

async function count(status: string): Promise<number> {
  const text = await metrics.registry.metrics()
  return text
    .split('\n')
    .filter((line) => line.startsWith('http_requests_total{') && line.includes(`status="${status}"`))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0)
}

const json = { 'Content-Type': 'application/json' }

describe('a real server facing broken clients', () => {
  it('counts uploads cut off mid-body as 499, never 500, and logs no error', async () => {
    const before = await count('499')
    const cutDeclared = await rawExchange(
      server.port,
      requestHead('POST', '/echo', json, 1_000),
      ['{"partial":'],
      { then: 'destroy' },
    )
    const cutChunked = await rawExchange(
      server.port,
      requestHead('POST', '/health', json),
      [chunk('{"a":')],
      {
        then: 'destroy',
      },
    )
    expect([cutDeclared.status, cutChunked.status]).toStrictEqual([undefined, undefined])

    await waitFor(async () => (await count('499')) >= before + 2, { timeoutMs: 5_000, message: 'two 499s' })
    expect(await count('500')).toBe(0)
    expect(lines.filter((l) => l.includes('"level":"error"') || l.includes('unhandled error'))).toStrictEqual(
      [],
    )
    expect(lines.some((l) => l.includes('client went away mid-request'))).toBe(true)
    expect(consoleError).not.toHaveBeenCalled()
  })

  it('answers bad chunked framing 400 without a 500 or an error line', async () => {
    const badSize = await rawExchange(
      server.port,
      requestHead('POST', '/health', json),
      ['ZZ\r\nhello\r\n0\r\n\r\n'],
      {
        then: 'read',
      },
    )
    const badAfterGood = await rawExchange(
      server.port,
      requestHead('POST', '/health', json),
      [chunk('{"a":1'), 'not-hex\r\n'],
      { then: 'read' },
    )
    expect([badSize.status, badAfterGood.status]).toStrictEqual([400, 400])
    expect(await count('500')).toBe(0)
    expect(lines.filter((l) => l.includes('"level":"error"'))).toStrictEqual([])
    expect(consoleError).not.toHaveBeenCalled()
  })

  it('refuses a declared 127 MiB body at once and a chunked one past the limit with 413', async () => {
    const declared = await rawExchange(
      server.port,
      requestHead('POST', '/health', json, 127 * 1024 * 1024),
      [],
      {
        then: 'read',
      },
    )
    const piece = new Uint8Array(8 * 1024).fill(0x20)
    const chunked = await rawExchange(
      server.port,
      requestHead('POST', '/health', json),
      Array.from({ length: 8 }, () => chunk(piece)),
      { then: 'read' },
    )
    expect([declared.status, chunked.status]).toStrictEqual([413, 413])
    expect(await count('500')).toBe(0)
  })

  it('still serves after all that', async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/health`)
    expect([res.status, await res.json()]).toStrictEqual([200, { status: 'ok' }])
  })
})
