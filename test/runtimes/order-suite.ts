// One end-to-end order test, run against every runtime (in the manner of hono's
// runtime-tests): POST an order, poll its status through the same intake until
// `confirmed`; a 401 without a key; a 400; and a 503 once NATS is gone,
// answered without a hang. Every order request carries the test run's client key.
//
// A runtime joins with a file of its own, e.g. for compiled binaries:
//   describeOrderRuntime('compiled Bun binary', async () => processTarget(await startRuntimeStack({ command })))
import { connect as connectTcp } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rawExchange } from '../../shared/http/raw-http-fixture.ts'
import { waitFor } from '../harness/wait-for.ts'
import { expectMoneyBalanced } from '../support/money.ts'
import { bearer } from '../support/provision.ts'
import type { RuntimeStack } from './runtime-stack.ts'

/** What the suite needs of a response (fetch's and Miniflare's both fit). */
export interface IntakeResponse {
  status: number
  headers: { get(name: string): string | null }
  json(): Promise<unknown>
}

export interface OrderTarget {
  /** A request to the order intake under test (`path` starts with `/`). */
  intake(
    path: string,
    init?: { method?: string; headers?: Record<string, string>; body?: string },
  ): Promise<IntakeResponse>
  setStock(sku: string, onHand: number, priceCents: number): Promise<void>
  /** The card processor's sandbox the payment worker charges: its ledger is the money invariant's truth. */
  gatewayUrl: string
  /** Makes NATS unreachable for the intake. */
  stopNats(): Promise<void>
  /** How long the intake may take to answer 503 once NATS is gone. */
  unavailableWithinMs: number
  /** http://host:port of the intake's own listener, for requests on a raw connection. */
  listener?: string
  /**
   * Miniflare's: a Node server in front of workerd that frames requests
   * itself (its 413s and 400s are not the Worker's), and drops a request whose
   * client reset the connection before the Worker saw it.
   */
  listenerIsProxy?: true
  dispose(): Promise<void>
}

/** The intake served by the stack's order process over HTTP. */
export function processTarget(stack: RuntimeStack): OrderTarget {
  return {
    intake: (path, init = {}) =>
      fetch(`${stack.order.url}${path}`, { ...init, signal: AbortSignal.timeout(10_000) }),
    setStock: (sku, onHand, price) => stack.setStock(sku, onHand, price),
    gatewayUrl: stack.gateway.url,
    stopNats: () => stack.server.stop(),
    // NATS_REQUEST_TIMEOUT_MS (2 s) if a publish starts before the client sees the disconnect.
    unavailableWithinMs: 3_500,
    listener: stack.order.url,
    dispose: () => stack.dispose(),
  }
}

interface OrderView {
  orderId: string
  status: string
  amountCents?: number
  history: { event: string; status: string }[]
}

/** Headers of an order request: JSON with the client key. */
const json = (): Record<string, string> => ({ 'Content-Type': 'application/json', ...bearer('client') })

export function describeOrderRuntime(
  runtime: string,
  start: () => Promise<OrderTarget>,
  {
    startTimeoutMs = 90_000,
    /** Whether the intake serves /openapi.json and /docs (not the Worker). */
    apiDocs = true,
  } = {},
): void {
  describe(`order intake on ${runtime}`, () => {
    let target: OrderTarget | undefined
    const t = (): OrderTarget => {
      if (target === undefined) throw new Error('the runtime did not start')
      return target
    }
    beforeAll(async () => {
      target = await start()
    }, startTimeoutMs)
    afterAll(async () => {
      await target?.dispose()
    })

    it('is ready: NATS answers and so do the streams it checks, as its own identity', async () => {
      const res = await t().intake('/ready')
      expect([res.status, await res.json()]).toStrictEqual([200, { status: 'ready' }])
    })

    it('confirms an order: 202, then its status read through the intake reaches confirmed', async () => {
      const sku = `RT-${runtime
        .replace(/[^A-Za-z0-9]/g, '')
        .toUpperCase()
        .slice(0, 20)}`
      await t().setStock(sku, 5, 1250)
      const res = await t().intake('/orders', {
        method: 'POST',
        headers: { ...json(), 'X-Correlation-ID': `corr-${sku}` },
        body: JSON.stringify({
          customerId: 'runtime-test',
          items: [{ sku, quantity: 2 }],
          paymentToken: 'tok_ok',
        }),
      })
      expect(res.status).toBe(202)
      const placed = (await res.json()) as { orderId: string; status: string; correlationId: string }
      expect(placed.orderId).toMatch(/^[0-9a-f-]{36}$/)
      expect(placed).toStrictEqual({
        orderId: placed.orderId,
        status: 'pending',
        correlationId: `corr-${sku}`,
      })
      expect(res.headers.get('Location')).toBe(`/orders/${placed.orderId}`)
      // The projection may apply payments.completed before inventory.reserved under
      // load (it handles messages concurrently): wait for all three events.
      const final = await waitFor(
        async () => {
          const res = await t().intake(`/orders/${placed.orderId}`, { headers: bearer('client') })
          const view = (await res.json()) as OrderView
          return view.status === 'cancelled' || view.history.length >= 3 ? view : undefined
        },
        { timeoutMs: 30_000, intervalMs: 100, message: `order ${placed.orderId} confirmed` },
      )
      expect(final).toMatchObject({ orderId: placed.orderId, status: 'confirmed', amountCents: 2500 })
      expect(final.history.map((h) => h.event).sort()).toStrictEqual([
        'inventory.reserved',
        'orders.created',
        'payments.completed',
      ])
      // The only order this suite places: the processor holds its amount, once.
      const money = await expectMoneyBalanced(
        {
          gatewayUrl: t().gatewayUrl,
          getOrder: async (orderId) =>
            (await (
              await t().intake(`/orders/${orderId}`, { headers: bearer('client') })
            ).json()) as OrderView,
        },
        new Set([placed.orderId]),
      )
      expect(money).toStrictEqual({ orders: 1, charges: 1 })
    })

    it('refuses a body declared over the limit with 413 and one Connection: close', async (ctx) => {
      const listener = t().listener
      if (listener === undefined || t().listenerIsProxy) return ctx.skip()
      const { hostname, port } = new URL(listener)
      const head = await new Promise<string>((resolve, reject) => {
        let text = ''
        const socket = connectTcp({ host: hostname, port: Number(port) }, () =>
          socket.write(
            `POST /orders HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
              `Authorization: ${bearer('client').Authorization}\r\nContent-Length: 10000000\r\n\r\n`,
          ),
        )
        const timer = setTimeout(() => {
          socket.destroy()
          reject(new Error(`no answer in 5 s: ${JSON.stringify(text)}`))
        }, 5_000)
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString('latin1')
          const end = text.indexOf('\r\n\r\n')
          if (end < 0) return
          clearTimeout(timer)
          socket.destroy()
          resolve(text.slice(0, end))
        })
        socket.on('error', (error) => {
          clearTimeout(timer)
          reject(error)
        })
      })
      const lines = head.split('\r\n')
      expect(lines[0]).toMatch(/^HTTP\/1\.1 413 /)
      expect(lines.filter((l) => /^connection:/i.test(l)).map((l) => l.toLowerCase())).toStrictEqual([
        'connection: close',
      ])
    })

    it('counts an order whose client left mid-body as 499, not a 500', async (ctx) => {
      const listener = t().listener
      if (listener === undefined) return ctx.skip()
      const { hostname, port } = new URL(listener)
      const countOf = async (status: string) => {
        const text = await (await fetch(`${listener}/metrics`)).text()
        const line = text
          .split('\n')
          .find(
            (l) =>
              /^http_requests_total\{/.test(l) &&
              l.includes('route="/orders"') &&
              l.includes(`status="${status}"`) &&
              l.includes('method="POST"'),
          )
        return line === undefined ? 0 : Number(line.split(' ').at(-1))
      }
      const before = { gone: await countOf('499'), failed: await countOf('500') }
      await new Promise<void>((resolve, reject) => {
        const socket = connectTcp({ host: hostname, port: Number(port) }, () => {
          socket.write(
            `POST /orders HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
              `Authorization: ${bearer('client').Authorization}\r\nContent-Length: 100\r\n\r\n{"cust`,
          )
          // It sends no more and closes its side (a reset is the same on Bun,
          // Node and Deno; Miniflare's proxy drops such a request unseen).
          setTimeout(() => {
            socket.end()
            setTimeout(() => {
              socket.destroy()
              resolve()
            }, 200)
          }, 300)
        })
        socket.on('error', (error) => (socket.destroyed ? undefined : reject(error)))
      })
      await waitFor(async () => (await countOf('499')) > before.gone, {
        timeoutMs: 5_000,
        message: 'a 499 for the order whose client left',
      })
      expect(await countOf('500')).toBe(before.failed)
    })

    it('answers 400 to a Host header that is no host, before any route reads the URL', async (ctx) => {
      const listener = t().listener
      if (listener === undefined || t().listenerIsProxy) return ctx.skip()
      const { port } = new URL(listener)
      // None, one no URL takes, two, one that is more than a host.
      for (const host of [
        undefined,
        '[',
        '[::1',
        'x:99999',
        '127.0.0.1\r\nHost: 127.0.0.2',
        '',
        'x/health?',
      ]) {
        const answer = await rawExchange(
          Number(port),
          `GET /orders/${'0'.repeat(8)}-0000-7000-8000-${'0'.repeat(12)} HTTP/1.1\r\n` +
            (host === undefined ? '' : `Host: ${host}\r\n`) +
            `Authorization: ${bearer('client').Authorization}\r\n\r\n`,
          [],
          { then: 'end' },
        )
        // Node's HTTP parser answers a bad one itself, with no body; the rest serveHttp, in JSON.
        expect(answer.status, host ?? 'no Host').toBe(400)
      }
    })

    it('resolves . and .. segments in the path as every runtime does: the route answers, its key checked', async (ctx) => {
      const listener = t().listener
      if (listener === undefined || t().listenerIsProxy) return ctx.skip()
      const { port } = new URL(listener)
      const order = `/orders/${'0'.repeat(8)}-0000-7000-8000-${'0'.repeat(12)}`
      for (const [path, status] of [
        ['/./health', 200],
        [`/health/..${order}`, 401],
        [`/x/%2e%2e${order}`, 401],
      ] as const) {
        const answer = await rawExchange(
          Number(port),
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
          [],
          {
            then: 'end',
          },
        )
        expect(answer.status, path).toBe(status)
      }
    })

    it('answers 401 with a Bearer challenge to an order request without a key', async () => {
      const res = await t().intake('/orders', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          customerId: 'c',
          items: [{ sku: 'ANY-1', quantity: 1 }],
          paymentToken: 'tok_ok',
        }),
      })
      expect(res.status).toBe(401)
      expect(res.headers.get('WWW-Authenticate')).toContain('Bearer')
      expect(((await res.json()) as { error: string }).error).toBe('unauthorized')
    })

    it('rejects an invalid order with 400 listing every issue', async () => {
      const res = await t().intake('/orders', {
        method: 'POST',
        headers: json(),
        body: JSON.stringify({ customerId: '', items: [{ sku: 'bad sku', quantity: 0 }] }),
      })
      expect(res.status).toBe(400)
      const body = (await res.json()) as { error: string; issues: { path: string }[] }
      expect(body.error).toBe('invalid_order')
      expect(body.issues.map((i) => i.path)).toEqual(
        expect.arrayContaining(['customerId', 'items.0.sku', 'items.0.quantity', 'paymentToken']),
      )
    })

    it(
      apiDocs
        ? 'serves /openapi.json and the docs page with its own files'
        : 'serves neither /openapi.json nor /docs',
      async () => {
        const document = await t().intake('/openapi.json')
        if (!apiDocs) {
          expect([document.status, (await t().intake('/docs')).status]).toStrictEqual([404, 404])
          return
        }
        expect(((await document.json()) as { openapi?: unknown }).openapi).toBe('3.1.1')
        for (const [path, type] of [
          ['/docs', 'text/html'],
          ['/docs/swagger-ui.css', 'text/css'],
          ['/docs/swagger-ui-bundle.js', 'text/javascript'],
        ] as const) {
          const res = await t().intake(path)
          expect([res.status, res.headers.get('Content-Type')?.split(';')[0]], path).toStrictEqual([
            200,
            type,
          ])
        }
      },
    )

    it('answers 503 with Retry-After once NATS is gone, without hanging', async () => {
      await t().stopNats()
      const started = Date.now()
      const res = await t().intake('/orders', {
        method: 'POST',
        headers: json(),
        body: JSON.stringify({
          customerId: 'c',
          items: [{ sku: 'ANY-1', quantity: 1 }],
          paymentToken: 'tok_ok',
        }),
      })
      const elapsed = Date.now() - started
      expect(res.status).toBe(503)
      expect(res.headers.get('Retry-After')).toBe('1')
      expect(((await res.json()) as { error: string }).error).toBe('unavailable')
      expect(elapsed).toBeLessThan(t().unavailableWithinMs)
    })
  })
}
