import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createLanePriority, runInLane } from '../../shared/nats/lane-priority.ts'
import { CircuitState } from '../../shared/resilience/policies.ts'
import {
  CircuitOpenError,
  createGatewayClient,
  GatewayProtocolError,
  RefundRefusedError,
} from './gateway-client.ts'

type Reply = { status: number; body?: unknown; delayMs?: number }
type Call = { key: string | undefined; path?: string }
let server: Server | undefined

async function gateway(replies: Reply[]): Promise<{ url: string; calls: Call[] }> {
  const calls: Call[] = []
  server = createServer((req, res) => {
    calls.push({ key: req.headers['idempotency-key'] as string | undefined })
    paths.push(req.url)
    authorizations.push(req.headers.authorization)
    correlations.push(req.headers['x-correlation-id'] as string | undefined)
    const reply = replies[Math.min(calls.length - 1, replies.length - 1)] ?? { status: 500 }
    setTimeout(() => {
      res.writeHead(reply.status, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify(reply.body ?? {}))
    }, reply.delayMs ?? 0)
  })
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls }
}

afterEach(async () => {
  const running = server
  server = undefined
  if (running === undefined) return
  running.closeAllConnections()
  await new Promise((resolve) => running.close(resolve))
})

let authorizations: (string | undefined)[] = []
let correlations: (string | undefined)[] = []
let paths: (string | undefined)[] = []
afterEach(() => {
  authorizations = []
  correlations = []
  paths = []
})

const request = { orderId: 'order-1', amountCents: 100, currency: 'USD', token: 'tok_ok' }
const options = {
  secretKey: 'gw_sk_test',
  // Generous for a loaded machine; the slow replies below wait well past it.
  timeoutMs: 500,
  retries: 2,
  retryInitialDelayMs: 10,
  retryMaxDelayMs: 20,
  breakerFailureRate: 0.5,
  breakerWindowMs: 10_000,
  breakerMinCalls: 100,
  halfOpenAfterMs: 1_000,
  // One round of attempts, then unresolved (tests that poll set their own).
  settleBudgetMs: 0,
  settlePollMs: 10,
}

describe('gateway client', () => {
  it('retries 5xx with the same idempotency key and returns the charge', async () => {
    const gw = await gateway([
      { status: 503 },
      { status: 502 },
      { status: 201, body: { id: 'ch_1', status: 'succeeded' } },
    ])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    expect(await client.charge(request)).toStrictEqual({ kind: 'succeeded', chargeId: 'ch_1' })
    expect(gw.calls).toStrictEqual([{ key: 'order-1' }, { key: 'order-1' }, { key: 'order-1' }])
  })

  it('holds a standard charge while express work is in flight, and not an express one', async () => {
    const gw = await gateway([{ status: 201, body: { id: 'ch_1', status: 'succeeded' } }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    const lanes = createLanePriority({ maxHoldMs: 30_000 })
    const expressDone = lanes.expressStarted()
    const standard = runInLane(lanes, 'standard', () => client.charge(request))
    await new Promise((r) => setTimeout(r, 200))
    expect(gw.calls).toStrictEqual([])
    expect(
      await runInLane(lanes, 'express', () => client.charge({ ...request, orderId: 'order-2' })),
    ).toMatchObject({ kind: 'succeeded' })
    expect(gw.calls).toStrictEqual([{ key: 'order-2' }])
    expressDone()
    expect(await standard).toMatchObject({ kind: 'succeeded' })
    expect(gw.calls).toStrictEqual([{ key: 'order-2' }, { key: 'order-1' }])
  })

  it("calls the routes under the base URL's own path (a processor's /v1)", async () => {
    const gw = await gateway([{ status: 201, body: { id: 'ch_1', status: 'succeeded' } }])
    for (const baseUrl of [`${gw.url}/v1`, `${gw.url}/v1/`]) {
      const client = createGatewayClient({ baseUrl, ...options })
      expect(await client.charge(request)).toMatchObject({ kind: 'succeeded' })
    }
    expect(paths).toStrictEqual(['/v1/charges', '/v1/charges'])
  })

  it('sends the secret key as a bearer token on every attempt', async () => {
    const gw = await gateway([{ status: 503 }, { status: 201, body: { id: 'ch_1' } }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    await client.charge(request)
    expect(authorizations).toStrictEqual(['Bearer gw_sk_test', 'Bearer gw_sk_test'])
  })

  it("sends the order's correlation id on charges, look-ups and refunds, and none that is not header-safe", async () => {
    const { url } = await gateway([
      { status: 201, body: { id: 'ch_1' } },
      { status: 200, body: { status: 'succeeded', charge: { id: 'ch_1' } } },
      { status: 201, body: { id: 're_1', amountCents: 100 } },
      { status: 201, body: { id: 'ch_2' } },
    ])
    const client = createGatewayClient({ baseUrl: url, ...options })
    await client.charge(request, undefined, 'corr-9')
    await client.lookup('order-1', undefined, 'corr-9')
    await client.refund({ chargeId: 'ch_1', key: 'refund:order-1', correlationId: 'corr-9' })
    await client.charge({ ...request, orderId: 'order-2' }, undefined, 'corr\u2028é')
    expect(correlations).toStrictEqual(['corr-9', 'corr-9', 'corr-9', undefined])
  })

  it('does not retry a refused secret key and names the setting', async () => {
    const gw = await gateway([{ status: 401, body: { error: 'unauthorized' } }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    const failure = client.charge(request)
    await expect(failure).rejects.toBeInstanceOf(GatewayProtocolError)
    await expect(failure).rejects.toThrow(/GATEWAY_SECRET_KEY/)
    expect(gw.calls).toHaveLength(1)
  })

  it('checks the secret key once at start: refused only on a 401 or 403', async () => {
    for (const [status, expected] of [
      [401, 'refused'],
      [403, 'refused'],
      [404, 'accepted'],
      [200, 'accepted'],
      [503, 'unreachable'],
    ] as const) {
      const gw = await gateway([{ status, body: {} }])
      const client = createGatewayClient({ baseUrl: gw.url, ...options })
      expect(await client.checkKey(), `answer ${status}`).toBe(expected)
      // One call, no retries, and the breaker learns nothing from it.
      expect(gw.calls).toHaveLength(1)
      expect(client.breaker.state).toBe(CircuitState.Closed)
      server?.closeAllConnections()
      await new Promise((resolve) => server?.close(resolve))
      server = undefined
    }
    expect(authorizations.every((a) => a === 'Bearer gw_sk_test')).toBe(true)
  })

  it('reads a processor that does not answer in time, or is not listening, as unreachable', async () => {
    const gw = await gateway([{ status: 401, delayMs: 2_000 }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    const started = Date.now()
    expect(await client.checkKey()).toBe('unreachable')
    expect(Date.now() - started).toBeLessThan(1_500)
    const closed = createGatewayClient({ baseUrl: 'http://127.0.0.1:9', ...options })
    expect(await closed.checkKey()).toBe('unreachable')
  })

  it('does not retry a decline', async () => {
    const gw = await gateway([{ status: 402, body: { error: 'card_declined' } }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    expect(await client.charge(request)).toStrictEqual({ kind: 'declined', code: 'card_declined' })
    expect(gw.calls).toHaveLength(1)
  })

  it('never reads an attempt that timed out as a failure: the charge is left unresolved', async () => {
    const gw = await gateway([{ status: 201, body: { id: 'late' }, delayMs: 2_500 }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    const started = Date.now()
    const outcome = await client.charge(request)
    expect(outcome.kind).toBe('unresolved')
    expect(gw.calls).toHaveLength(3)
    expect(Date.now() - started).toBeLessThan(2_500)
  })

  it('polls a charge the processor is still processing until it answers, within the settle budget', async () => {
    const gw = await gateway([
      { status: 409, body: { error: 'idempotency_key_in_use' } },
      { status: 409, body: { error: 'idempotency_key_in_use' } },
      { status: 201, body: { id: 'ch_slow' } },
    ])
    const client = createGatewayClient({ baseUrl: gw.url, ...options, settleBudgetMs: 5_000 })
    expect(await client.charge(request)).toStrictEqual({ kind: 'succeeded', chargeId: 'ch_slow' })
    expect(gw.calls.map((c) => c.key)).toStrictEqual(['order-1', 'order-1', 'order-1'])
  })

  it('sends no new attempt once the order is no longer waiting on the charge: unresolved', async () => {
    const gw = await gateway([{ status: 503 }, { status: 201, body: { id: 'ch_after_cancel' } }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    const asked: number[] = []
    const outcome = await client.charge(request, undefined, undefined, () => {
      asked.push(gw.calls.length)
      return Promise.resolve(false)
    })
    expect(outcome).toStrictEqual({
      kind: 'unresolved',
      detail:
        'the order was decided after 1 attempt(s); no new attempt sent (no answer: gateway answered 503)',
    })
    // Asked before the retry only (the first attempt follows the claim); one call reached the processor.
    expect([asked, gw.calls.length]).toStrictEqual([[1], 1])
    expect(client.breaker.state).toBe(0)
  })

  it("starts no attempt at or after the order's deadline, the first included: unresolved, nothing sent", async () => {
    const gw = await gateway([{ status: 201, body: { id: 'ch_late' } }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    const outcome = await client.charge(request, undefined, undefined, undefined, Date.now() - 1)
    expect(outcome).toStrictEqual({
      kind: 'unresolved',
      detail: "the order's deadline passed after 0 attempt(s); no new attempt sent (no attempt)",
      notSent: true,
    })
    expect(gw.calls).toHaveLength(0)
    // Before the deadline the charge goes as usual.
    const inTime = await client.charge(request, undefined, undefined, undefined, Date.now() + 60_000)
    expect(inTime).toStrictEqual({ kind: 'succeeded', chargeId: 'ch_late' })
    expect(gw.calls).toHaveLength(1)
  })

  it('sends no retry once the deadline passed during the attempt before it', async () => {
    // The first attempt takes 300 ms and fails (503, nothing written); the deadline passes meanwhile.
    const gw = await gateway([
      { status: 503, delayMs: 300 },
      { status: 201, body: { id: 'ch_after_deadline' } },
    ])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    const outcome = await client.charge(request, undefined, undefined, undefined, Date.now() + 150)
    expect(outcome).toMatchObject({ kind: 'unresolved' })
    expect(outcome.kind === 'unresolved' && outcome.detail).toMatch(/deadline passed after 1 attempt/)
    expect(gw.calls).toHaveLength(1)
  })

  it("sends no retry when the decision's read before it ends past the deadline", async () => {
    const gw = await gateway([{ status: 503 }, { status: 201, body: { id: 'ch_after' } }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    // The read says "still wanted", but only after the deadline (a slow read; express work ahead of it).
    const slowYes = () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 400))
    const outcome = await client.charge(request, undefined, undefined, slowYes, Date.now() + 150)
    expect(outcome).toMatchObject({ kind: 'unresolved' })
    expect(outcome.kind === 'unresolved' && outcome.detail).toMatch(/deadline passed after 1 attempt/)
    expect(outcome.kind === 'unresolved' && outcome.notSent).toBeUndefined()
    expect(gw.calls).toHaveLength(1)
  })

  it('retries and polls while the order still waits on the charge', async () => {
    const gw = await gateway([
      { status: 503 },
      { status: 409, body: { error: 'idempotency_key_in_use' } },
      { status: 201, body: { id: 'ch_wanted' } },
    ])
    const client = createGatewayClient({ baseUrl: gw.url, ...options, settleBudgetMs: 5_000 })
    let asked = 0
    const wanted = () => Promise.resolve(++asked > 0)
    expect(await client.charge(request, undefined, undefined, wanted)).toStrictEqual({
      kind: 'succeeded',
      chargeId: 'ch_wanted',
    })
    expect([asked, gw.calls.length]).toStrictEqual([2, 3])
  })

  it("asks outside the attempt's deadline: a slow answer takes none of the call's time", async () => {
    const gw = await gateway([{ status: 503 }, { status: 201, body: { id: 'ch_after_slow_read' } }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    const slowYes = () =>
      new Promise<boolean>((resolve) => setTimeout(() => resolve(true), options.timeoutMs + 200))
    expect(await client.charge(request, undefined, undefined, slowYes)).toStrictEqual({
      kind: 'succeeded',
      chargeId: 'ch_after_slow_read',
    })
    expect(gw.calls).toHaveLength(2)
  })

  it('stops polling a charge still processing once the order is decided', async () => {
    const gw = await gateway([{ status: 409, body: { error: 'idempotency_key_in_use' } }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options, settleBudgetMs: 5_000 })
    const outcome = await client.charge(request, undefined, undefined, () => Promise.resolve(false))
    expect(outcome).toStrictEqual({
      kind: 'unresolved',
      detail:
        'the order was decided after 1 attempt(s); no new attempt sent (the processor is still processing the charge)',
    })
    expect(gw.calls).toHaveLength(1)
  })

  it('retries a dropped connection under the same key and gets the charge it took', async () => {
    let calls = 0
    server = createServer((req, res) => {
      calls++
      if (calls === 1) {
        req.socket.destroy() // the charge "happened"; the answer never arrives
        return
      }
      res.writeHead(201, { 'Content-Type': 'application/json', 'Idempotent-Replayed': 'true' })
      res.end(JSON.stringify({ id: 'ch_dropped' }))
    })
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const client = createGatewayClient({ baseUrl: url, ...options })
    expect(await client.charge(request)).toStrictEqual({ kind: 'succeeded', chargeId: 'ch_dropped' })
    expect(calls).toBe(2)
  })

  it('looks up an attempt by key and refunds a charge under one refund key', async () => {
    const gw = await gateway([
      { status: 200, body: { idempotencyKey: 'order-1', status: 'succeeded', charge: { id: 'ch_1' } } },
      { status: 201, body: { id: 're_1', amountCents: 100 } },
      { status: 422, body: { error: 'refund_exceeds_charge' } },
    ])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    expect(await client.lookup('order-1')).toStrictEqual({ kind: 'succeeded', chargeId: 'ch_1' })
    expect(await client.refund({ chargeId: 'ch_1', key: 'refund:order-1' })).toStrictEqual({
      refundId: 're_1',
      amountCents: 100,
    })
    await expect(client.refund({ chargeId: 'ch_1', key: 'refund:order-1' })).rejects.toBeInstanceOf(
      RefundRefusedError,
    )
    expect(gw.calls.map((c) => c.key)).toStrictEqual([undefined, 'refund:order-1', 'refund:order-1'])
  })

  /** Two 503s open the breaker; then `after` answers, once the breaker lets a trial through. */
  async function openedBreaker(after: Reply[]) {
    const gw = await gateway([{ status: 503 }, { status: 503 }, ...after])
    const client = createGatewayClient({
      baseUrl: gw.url,
      ...options,
      retries: 0,
      breakerMinCalls: 2,
      halfOpenAfterMs: 100,
    })
    expect((await client.charge(request)).kind).toBe('unresolved')
    expect((await client.charge(request)).kind).toBe('unresolved')
    await expect(client.charge(request)).rejects.toBeInstanceOf(CircuitOpenError)
    await new Promise((resolve) => setTimeout(resolve, 150))
    return { gw, client }
  }

  it('a probe closes the breaker with any answer, without an order', async () => {
    // The probe's look-up gets a 404, which still answers.
    const { gw, client } = await openedBreaker([
      { status: 404, body: { error: 'not_found' } },
      { status: 201, body: { id: 'ch_after' } },
    ])
    await client.probe()
    // Closed: the next order goes to the processor.
    expect(await client.charge(request)).toStrictEqual({ kind: 'succeeded', chargeId: 'ch_after' })
    // The probe sent no order: a look-up of a key no order uses, without an Idempotency-Key.
    expect(paths).toStrictEqual(['/charges', '/charges', '/charge-attempts/health-probe', '/charges'])
    expect(gw.calls.map((c) => c.key)).toStrictEqual(['order-1', 'order-1', undefined, 'order-1'])
  })

  it('a probe the processor does not answer keeps the breaker open', async () => {
    // The processor hangs past every deadline.
    const { gw, client } = await openedBreaker([{ status: 201, delayMs: 3_000 }])
    await expect(client.probe()).rejects.toThrow()
    // The failed trial left it open: no order goes to a processor that does not answer.
    await expect(client.charge(request)).rejects.toBeInstanceOf(CircuitOpenError)
    expect(gw.calls).toHaveLength(3)
  })

  it('keeps the breaker closed when some calls fail for a while', async () => {
    const gw = await gateway([
      { status: 503 },
      { status: 201, body: { id: 'ch_1' } },
      { status: 201, body: { id: 'ch_1' } },
      { status: 201, body: { id: 'ch_1' } },
    ])
    const client = createGatewayClient({ baseUrl: gw.url, ...options, retries: 0, breakerMinCalls: 2 })
    expect((await client.charge(request)).kind).toBe('unresolved')
    for (let i = 0; i < 3; i++) expect((await client.charge(request)).kind).toBe('succeeded')
  })

  it('treats a refused connection as transient and opens the breaker', async () => {
    const client = createGatewayClient({
      baseUrl: 'http://127.0.0.1:9',
      ...options,
      retries: 0,
      breakerMinCalls: 2,
    })
    expect((await client.charge(request)).kind).toBe('unresolved')
    expect((await client.charge(request)).kind).toBe('unresolved')
    await expect(client.charge(request)).rejects.toBeInstanceOf(CircuitOpenError)
  })
})
