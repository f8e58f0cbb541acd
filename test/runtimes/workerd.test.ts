// The order intake as a Cloudflare Worker in workerd (Miniflare), on the test's
// nats-server over its WebSocket listener, connecting per request through the
// documented `fetch` + `Upgrade: websocket` path; the other workers on Bun.
// The Worker gets the secrets of the `order-edge` identity as bindings: its
// NKEY seed, the API key digests and the payment service's public key.
import { connect, createServer, type Server, type Socket } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chunk, requestHead } from '../../shared/http/raw-http-fixture.ts'
import { workerSecrets } from '../harness/test-secrets.ts'
import { bearer } from '../support/provision.ts'
import { buildEdgeBundle, startEdgeIntake, type EdgeBundle, type EdgeIntake } from './edge.ts'
import { describeOrderRuntime, type OrderTarget } from './order-suite.ts'
import { startRuntimeStack } from './runtime-stack.ts'

let bundle: EdgeBundle | undefined

beforeAll(async () => {
  bundle = await buildEdgeBundle()
}, 120_000)

afterAll(async () => {
  await bundle?.remove()
})

function built(): EdgeBundle {
  if (bundle === undefined) throw new Error('no edge bundle')
  return bundle
}

/** The Worker with the order-edge secrets, silent logs and `vars`, for `use`, then disposed. */
async function withEdge(
  vars: Record<string, string>,
  use: (edge: EdgeIntake) => Promise<void>,
): Promise<void> {
  const edge = await startEdgeIntake(built(), {
    ...(await workerSecrets('order-edge')),
    LOG_LEVEL: 'silent',
    ...vars,
  })
  try {
    await use(edge)
  } finally {
    await edge.dispose()
  }
}

const startWorkerd = async (): Promise<OrderTarget> => {
  const stack = await startRuntimeStack()
  try {
    if (stack.server.wsUrl === undefined) throw new Error('nats-server has no WebSocket listener')
    const edge = await startEdgeIntake(built(), {
      ...(await workerSecrets('order-edge')),
      NATS_URL: stack.server.wsUrl,
      NATS_REQUEST_TIMEOUT_MS: '2000',
      LOG_LEVEL: 'error',
    })
    return {
      intake: (path, init) => edge.fetch(path, init),
      listener: edge.url.origin,
      listenerIsProxy: true,
      setStock: (sku, onHand, price) => stack.setStock(sku, onHand, price),
      gatewayUrl: stack.gateway.url,
      stopNats: () => stack.server.stop(),
      unavailableWithinMs: 2_500,
      dispose: () => edge.dispose().finally(() => stack.dispose()),
    }
  } catch (error) {
    await stack.dispose()
    throw error
  }
}

// The Worker serves neither /openapi.json nor /docs (its bundle budget).
describeOrderRuntime('workerd (Cloudflare Workers)', startWorkerd, { apiDocs: false })

describe('order intake on workerd when NATS never answers', () => {
  let silent: Server
  const sockets = new Set<Socket>()

  beforeAll(async () => {
    // Accepts connections and says nothing: no upgrade, no INFO.
    silent = createServer((socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done))
  })

  afterAll(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((done) => silent.close(done))
  })

  it('answers 503 after NATS_REQUEST_TIMEOUT_MS, for writes, reads and readiness', async () => {
    const address = silent.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    await withEdge(
      {
        NATS_URL: `ws://127.0.0.1:${address.port}`,
        NATS_REQUEST_TIMEOUT_MS: '500',
      },
      async (edge) => {
        const started = Date.now()
        const post = await edge.fetch('/orders', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...bearer('client') },
          body: JSON.stringify({
            customerId: 'c',
            items: [{ sku: 'A-1', quantity: 1 }],
            paymentToken: 'tok_ok',
          }),
        })
        const elapsed = Date.now() - started
        expect(post.status).toBe(503)
        expect(await post.json()).toStrictEqual({ error: 'unavailable', message: expect.any(String) })
        expect(elapsed).toBeGreaterThanOrEqual(450)
        expect(elapsed).toBeLessThan(2_000)
        const read = await edge.fetch('/orders/0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f', {
          headers: bearer('client'),
        })
        expect(read.status).toBe(503)
        const ready = await edge.fetch('/ready')
        expect(ready.status).toBe(503)
        expect(await ready.json()).toStrictEqual({
          status: 'not_ready',
          reason: expect.stringContaining('NATS unreachable'),
        })
      },
    )
  })

  it('answers 500 misconfigured, not a crash, when NATS_URL is not a WebSocket URL', async () => {
    await withEdge(
      {
        NATS_URL: 'nats://127.0.0.1:4222',
      },
      async (edge) => {
        const res = await edge.fetch('/health')
        expect(res.status).toBe(500)
        expect(((await res.json()) as { error: string }).error).toBe('misconfigured')
      },
    )
  })
})

/**
 * Two requests on one keep-alive connection to workerd's own listener: the
 * status of each, in order (undefined when the connection gave no answer).
 */
async function twoOnOneConnection(
  url: URL,
  first: Uint8Array[],
  second: string,
): Promise<(number | undefined)[]> {
  const socket = connect(Number(url.port), '127.0.0.1')
  let text = ''
  socket.on('data', (data: Buffer) => {
    text += data.toString('latin1')
  })
  const closed = new Promise<void>((done) => {
    socket.on('close', () => done())
    socket.on('error', () => undefined)
  })
  const statuses = (): number[] => [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]))
  const until = async (count: number, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs
    while (statuses().length < count && !socket.destroyed && Date.now() < deadline) await delay(20)
  }
  try {
    for (const part of first) socket.write(part)
    await until(1, 5_000)
    socket.write(second)
    await until(2, 5_000)
    const got = statuses()
    return [got[0], got[1]]
  } finally {
    socket.destroy()
    await closed
  }
}

describe('order intake on workerd over a real connection', () => {
  it('answers the next request on the connection after refusing a chunked body with 413', async () => {
    await withEdge(
      {
        NATS_URL: 'ws://127.0.0.1:9',
      },
      async (edge) => {
        const head = requestHead('POST', '/health', { 'Content-Type': 'application/json' })
        // 70 KB in chunks: over the 64 KiB limit, no Content-Length to refuse it by.
        const body = Array.from({ length: 7 }, () => chunk('x'.repeat(10_000)))
        const statuses = await twoOnOneConnection(
          edge.url,
          [new TextEncoder().encode(head), ...body, new TextEncoder().encode('0\r\n\r\n')],
          'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
        )
        expect(statuses).toStrictEqual([413, 200])
      },
    )
  })

  it('limits failed attempts per client address over a real connection', async () => {
    await withEdge(
      {
        NATS_URL: 'ws://127.0.0.1:9',
        RATE_LIMIT_PER_SECOND: '0.01',
        RATE_LIMIT_BURST: '3',
      },
      async (edge) => {
        const statuses: number[] = []
        for (let i = 0; i < 5; i++) {
          const res = await fetch(new URL('/orders/0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f', edge.url), {
            headers: { Authorization: 'Bearer not-a-key' },
            signal: AbortSignal.timeout(5_000),
          })
          await res.arrayBuffer()
          statuses.push(res.status)
        }
        expect(statuses).toStrictEqual([401, 401, 401, 429, 429])
      },
    )
  })
})
