// Real sockets against the gateway running on Bun (Bun.serve): uploads cut
// off, bad chunked framing and oversized bodies are never a 500 nor an
// `unhandled error`. The Node server is covered by shared/runtime/server-aborts.test.ts,
// and here for bodies sent without the key (which the gateway never reads).
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { chunk, rawExchange, requestHead } from '../../shared/http/raw-http-fixture.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import { serveHttp } from '../../shared/runtime/server.ts'
import { spawnService, type ServiceHandle } from '../../test/harness/process.ts'
import { waitFor } from '../../test/harness/wait-for.ts'
import { createApp } from './app.ts'
import { METRICS_FRESH_MS } from '../../shared/http/observability-routes.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const SECRET_KEY = 'gw_sk_socket_test'
const headers = {
  'Content-Type': 'application/json',
  'Idempotency-Key': 'socket-1',
  Authorization: `Bearer ${SECRET_KEY}`,
}

let gateway: ServiceHandle
let port = 0

beforeAll(async () => {
  gateway = await spawnService({
    cmd: `${root}node_modules/.bin/bun`,
    args: ['run', 'workers/gateway/main.ts'],
    cwd: root,
    env: { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'debug', GATEWAY_SECRET_KEY: SECRET_KEY },
    readyLine: /"msg":"listening"/,
  })
  const listening = gateway.lines().find((l) => l.includes('"msg":"listening"')) ?? '{}'
  port = Number((JSON.parse(listening) as { port?: number }).port)
})

afterAll(async () => {
  await gateway?.[Symbol.asyncDispose]()
})

async function count(status: string, on = port): Promise<number> {
  // A rendering newer than every request before this call (/metrics keeps one for METRICS_FRESH_MS).
  await new Promise((resolve) => setTimeout(resolve, METRICS_FRESH_MS + 10))
  const text = await (await fetch(`http://127.0.0.1:${on}/metrics`)).text()
  return text
    .split('\n')
    .filter((line) => line.startsWith('http_requests_total{') && line.includes(`status="${status}"`))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0)
}

describe('the gateway on Bun facing broken clients', () => {
  it('counts charges cut off mid-body as 499 and logs no error', async () => {
    const body = '{"amountCents":100,"currency":"EUR","token":"tok_ok","orderId":"o-1"}'
    await rawExchange(port, requestHead('POST', '/charges', headers, body.length + 50), [body.slice(0, 20)], {
      then: 'destroy',
    })
    await rawExchange(port, requestHead('POST', '/charges', headers), [chunk(body.slice(0, 20))], {
      then: 'destroy',
    })
    await waitFor(async () => (await count('499')) >= 2, { timeoutMs: 5_000, message: 'two 499s' })
    expect(await count('500')).toBe(0)
    expect(
      gateway.lines().filter((l) => l.includes('"level":"error"') || l.includes('unhandled error')),
    ).toStrictEqual([])
  })

  it('answers 400 to a Host header that is no host, never a 500 from a route reading its URL', async () => {
    for (const host of ['[', '[::1', 'x:99999', `127.0.0.1\r\nHost: 127.0.0.2`, '', 'x/health?']) {
      const answer = await rawExchange(
        port,
        `GET /charges?orderId=o-1 HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${SECRET_KEY}\r\n\r\n`,
        [],
        { then: 'end' },
      )
      expect(answer.status, host).toBe(400)
      expect(answer.text, host).toContain('"message":"the request has no valid Host header"')
      expect(answer.text.toLowerCase(), host).toContain('x-content-type-options: nosniff')
    }
    // A name, an address or a bracketed IPv6 address, with or without a port, in any case.
    for (const host of ['[::1]:3003', 'Gateway.Example:80', '127.0.0.1']) {
      const answer = await rawExchange(
        port,
        `GET /charges?orderId=o-1 HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${SECRET_KEY}\r\n\r\n`,
        [],
        { then: 'end' },
      )
      expect(answer.status, host).toBe(200)
    }
    expect(await count('500')).toBe(0)
    expect(gateway.lines().filter((l) => l.includes('"level":"error"'))).toStrictEqual([])
  })

  it('answers bad chunked framing 400 and oversized bodies 413', async () => {
    const badSize = await rawExchange(
      port,
      requestHead('POST', '/charges', headers),
      ['ZZ\r\nhello\r\n0\r\n\r\n'],
      {
        then: 'read',
      },
    )
    const declared = await rawExchange(
      port,
      requestHead('POST', '/charges', headers, 127 * 1024 * 1024),
      [],
      {
        then: 'read',
      },
    )
    const piece = new Uint8Array(8 * 1024).fill(0x20)
    const chunked = await rawExchange(
      port,
      requestHead('POST', '/charges', headers),
      Array.from({ length: 4 }, () => chunk(piece)),
      { then: 'read' },
    )
    expect([badSize.status, declared.status, chunked.status]).toStrictEqual([400, 413, 413])
    expect(await count('500')).toBe(0)
    expect(
      gateway.lines().filter((l) => l.includes('"level":"error"') || l.includes('unhandled error')),
    ).toStrictEqual([])
    const health = await fetch(`http://127.0.0.1:${port}/health`)
    expect(health.status).toBe(200)
  })
})

/** Without the key: a body too big, or cut off; the gateway answers 401 (413 for a declared length) and reads none. */
async function keylessUploads(on: number): Promise<(number | undefined)[]> {
  const { Authorization: _key, ...keyless } = headers
  const piece = new Uint8Array(8 * 1024).fill(0x20)
  const statuses: (number | undefined)[] = []
  for (const parts of [Array.from({ length: 4 }, () => chunk(piece)), [chunk('{"amountCents":')]]) {
    statuses.push(
      (await rawExchange(on, requestHead('POST', '/charges', keyless), parts, { then: 'read' })).status,
    )
  }
  const declared = requestHead('POST', '/charges', keyless, 127 * 1024 * 1024)
  statuses.push((await rawExchange(on, declared, [], { then: 'read' })).status)
  await rawExchange(on, requestHead('POST', '/charges', keyless, 1_000), ['{"partial":'], { then: 'destroy' })
  return statuses
}

describe('the gateway facing uploads without its key', () => {
  it('on Bun: 401 (413 for a declared length), no 500, no error line, still serving', async () => {
    expect(await keylessUploads(port)).toStrictEqual([401, 401, 413])
    expect(await count('500')).toBe(0)
    expect(
      gateway.lines().filter((l) => l.includes('"level":"error"') || l.includes('unhandled error')),
    ).toStrictEqual([])
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200)
  })

  it('on Node: the same', async () => {
    const lines: string[] = []
    const app = createApp({
      config: {
        failureRate: 0,
        slowRate: 0,
        dropRate: 0,
        errorAfterChargeRate: 0,
        latencyMs: 0,
        slowMs: 0,
        flakyFailures: 0,
        secretKey: SECRET_KEY,
        maxBodyBytes: 16 * 1024,
        rateLimitPerSecond: 100,
        rateLimitBurst: 200,
      },
      logger: createLogger({
        service: 'gateway',
        level: 'debug',
        destination: { write: (l) => lines.push(l) },
      }),
      metrics: createMetrics('gateway'),
    })
    const server = await serveHttp({ fetch: (request) => app.fetch(request), port: 0, hostname: '127.0.0.1' })
    onTestFinished(() => server.close())
    expect(await keylessUploads(server.port)).toStrictEqual([401, 401, 413])
    expect(await count('500', server.port)).toBe(0)
    expect(lines.filter((l) => l.includes('"level":"error"') || l.includes('unhandled error'))).toStrictEqual(
      [],
    )
    expect((await fetch(`http://127.0.0.1:${server.port}/health`)).status).toBe(200)
  })
})
