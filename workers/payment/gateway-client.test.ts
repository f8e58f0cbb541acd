import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import {
  CircuitOpenError,
  createGatewayClient,
  GatewayProtocolError,
  GatewayUnavailableError,
} from './gateway-client.ts'

type Reply = { status: number; body?: unknown; delayMs?: number }
type Call = { key: string | undefined }
let server: Server | undefined

async function gateway(replies: Reply[]): Promise<{ url: string; calls: Call[] }> {
  const calls: Call[] = []
  server = createServer((req, res) => {
    calls.push({ key: req.headers['idempotency-key'] as string | undefined })
    authorizations.push(req.headers.authorization)
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
afterEach(() => {
  authorizations = []
})

const request = { orderId: 'order-1', amountCents: 100, currency: 'USD', token: 'tok_ok' }
const options = {
  secretKey: 'gw_sk_test',
  timeoutMs: 200,
  retries: 2,
  retryInitialDelayMs: 10,
  retryMaxDelayMs: 20,
  breakerFailureRate: 0.5,
  breakerWindowMs: 10_000,
  breakerMinCalls: 100,
  halfOpenAfterMs: 1_000,
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

  it('sends the secret key as a bearer token on every attempt', async () => {
    const gw = await gateway([{ status: 503 }, { status: 201, body: { id: 'ch_1' } }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    await client.charge(request)
    expect(authorizations).toStrictEqual(['Bearer gw_sk_test', 'Bearer gw_sk_test'])
  })

  it('does not retry a refused secret key and names the setting', async () => {
    const gw = await gateway([{ status: 401, body: { error: 'unauthorized' } }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    const failure = client.charge(request)
    await expect(failure).rejects.toBeInstanceOf(GatewayProtocolError)
    await expect(failure).rejects.toThrow(/GATEWAY_SECRET_KEY/)
    expect(gw.calls).toHaveLength(1)
  })

  it('does not retry a decline', async () => {
    const gw = await gateway([{ status: 402, body: { error: 'card_declined' } }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    expect(await client.charge(request)).toStrictEqual({ kind: 'declined', code: 'card_declined' })
    expect(gw.calls).toHaveLength(1)
  })

  it('times out slow attempts and gives up after the retry budget', async () => {
    const gw = await gateway([{ status: 201, body: { id: 'late' }, delayMs: 1_000 }])
    const client = createGatewayClient({ baseUrl: gw.url, ...options })
    const started = Date.now()
    await expect(client.charge(request)).rejects.toBeInstanceOf(GatewayUnavailableError)
    expect(gw.calls).toHaveLength(3)
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('keeps the breaker closed when some calls fail for a while', async () => {
    const gw = await gateway([
      { status: 503 },
      { status: 201, body: { id: 'ch_1' } },
      { status: 201, body: { id: 'ch_1' } },
      { status: 201, body: { id: 'ch_1' } },
    ])
    const client = createGatewayClient({ baseUrl: gw.url, ...options, retries: 0, breakerMinCalls: 2 })
    await expect(client.charge(request)).rejects.toBeInstanceOf(GatewayUnavailableError)
    for (let i = 0; i < 3; i++) expect((await client.charge(request)).kind).toBe('succeeded')
  })

  it('treats a refused connection as transient and opens the breaker', async () => {
    const client = createGatewayClient({
      baseUrl: 'http://127.0.0.1:9',
      ...options,
      retries: 0,
      breakerMinCalls: 2,
    })
    await expect(client.charge(request)).rejects.toBeInstanceOf(GatewayUnavailableError)
    await expect(client.charge(request)).rejects.toBeInstanceOf(GatewayUnavailableError)
    await expect(client.charge(request)).rejects.toBeInstanceOf(CircuitOpenError)
  })
})
