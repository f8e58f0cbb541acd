// The order intake against a real nats-server: events on the stream, idempotency, outages.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Kvm } from '@nats-io/kv'
import { BUCKETS, HEADERS, STREAMS, SUBJECTS } from '../schemas/subjects.ts'
import { canonicalJson } from '../workers/order/domain.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { createMetrics } from '../shared/observability/metrics.ts'
import { loadOrderConfig } from '../workers/order/config.ts'
import { startOrderService, type OrderService } from '../workers/order/service.ts'
import { createTokenOpener, SEALED_TOKEN_PATTERN } from '../shared/security/sealed-token.ts'
import { testSecrets, workerSecrets } from './harness/test-secrets.ts'
import { bearer, provisionNats } from './support/provision.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'
import { stopAndWait } from './harness/process.ts'
import { waitFor } from './harness/wait-for.ts'

const order = {
  customerId: 'cust-1',
  items: [
    { sku: 'SKU-1', quantity: 2 },
    { sku: 'SKU-2', quantity: 1 },
  ],
  paymentToken: 'tok_ok',
}

let server: NatsServerHandle
let service: OrderService
let nc: NatsConnection
let jsm: JetStreamManager

async function post(body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return await service.app.request('/orders', {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...bearer('client'), ...headers },
  })
}

/** Messages per order on orders.created in the migration window: version 1 and its version 2 twin. */
const PER_ORDER = 2

async function sha256Hex(text: string): Promise<string> {
  return Buffer.from(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))).toString('hex')
}

async function createdCount(): Promise<number> {
  const info = await jsm.streams.info(STREAMS.orders.name, { subjects_filter: SUBJECTS.orderCreated })
  return info.state.subjects?.[SUBJECTS.orderCreated] ?? 0
}

beforeAll(async () => {
  server = await startNatsServer()
  await provisionNats([server.url])
  const config = loadOrderConfig({
    ...(await workerSecrets('order')),
    NATS_URL: server.url,
    LOG_LEVEL: 'silent',
    NATS_CONNECT_TIMEOUT_MS: '5000',
    // The migration window: each order as v1 and v2 (the default publishes v2 only).
    ORDER_CREATED_VERSIONS: '1,2',
  })
  service = await startOrderService(config, {
    connect,
    logger: createLogger({ service: 'order', level: 'silent' }),
    metrics: createMetrics('order'),
  })
  nc = await connect(server.connectOptions())
  jsm = await jetstreamManager(nc)
})

afterAll(async () => {
  await service?.stopConsuming().catch(() => undefined)
  await service?.close().catch(() => undefined)
  await nc?.close().catch(() => undefined)
  await server?.dispose()
})

describe('order intake on a real JetStream', () => {
  it('stores each order once in each version (v1 with its v2 twin, one atomic batch), with payloads and headers', async () => {
    const before = await createdCount()
    const res = await post(order, { 'X-Correlation-ID': 'corr-intake-1' })
    expect(res.status).toBe(202)
    const body = (await res.json()) as { orderId: string; correlationId: string; status: string }
    expect(body).toStrictEqual({
      orderId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'pending',
      correlationId: 'corr-intake-1',
    })
    expect(await createdCount()).toBe(before + PER_ORDER)

    const v2 = await jsm.streams.getMessage(STREAMS.orders.name, { last_by_subj: SUBJECTS.orderCreated })
    const stored = await jsm.streams.getMessage(STREAMS.orders.name, { seq: (v2?.seq ?? 0) - 1 })
    expect(v2?.header?.get(HEADERS.eventVersion)).toBe('2')
    expect(v2?.header?.get(HEADERS.msgId)).toBe(`${body.orderId}:v2`)
    expect(v2?.json()).toStrictEqual({
      version: 2,
      orderId: body.orderId,
      occurredAt: stored?.json<{ occurredAt: string }>().occurredAt,
      customer: { id: 'cust-1' },
      items: order.items,
      owner: 'client',
      sealedPaymentToken: stored?.json<{ sealedPaymentToken: string }>().sealedPaymentToken,
    })
    expect(stored?.header?.get(HEADERS.correlationId)).toBe('corr-intake-1')
    expect(stored?.header?.get(HEADERS.msgId)).toBe(body.orderId)
    expect(stored?.header?.get(HEADERS.eventVersion)).toBe('1')
    expect(stored?.header?.get(HEADERS.twinVersion)).toBe('2')
    expect(stored?.json()).toStrictEqual({
      version: 1,
      orderId: body.orderId,
      occurredAt: expect.any(String),
      customerId: 'cust-1',
      items: order.items,
      owner: 'client',
      sealedPaymentToken: expect.stringMatching(SEALED_TOKEN_PATTERN),
    })
    // Sealed: not in the stored bytes, and only the payment key opens it, for this order only.
    expect(new TextDecoder().decode(stored?.data)).not.toContain('tok_ok')
    const { sealedPaymentToken } = stored?.json<{ sealedPaymentToken: string }>() ?? {
      sealedPaymentToken: '',
    }
    const opener = await createTokenOpener([testSecrets().sealing.privateJwk])
    expect(await opener.open(sealedPaymentToken, body.orderId)).toBe('tok_ok')
  })

  it('serves the order status right after the 202', async () => {
    const res = await post(order)
    const { orderId } = (await res.json()) as { orderId: string }
    const status = await service.app.request(`/orders/${orderId}`, { headers: bearer('client') })
    expect(status.status).toBe(200)
    const record = (await status.json()) as Record<string, unknown>
    expect(record).toMatchObject({ orderId, status: 'pending', customerId: 'cust-1', items: order.items })
    expect(typeof record['updatedAt']).toBe('string')
  })

  it('answers 404 for an order that does not exist', async () => {
    const res = await service.app.request('/orders/5a0d7c6e-1d2b-4c3a-9e8f-7a6b5c4d3e2f', {
      headers: bearer('client'),
    })
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({ error: 'not_found' })
  })

  it('returns the same order for a repeated Idempotency-Key and stores one event', async () => {
    const before = await createdCount()
    const headers = { 'Idempotency-Key': `key-${crypto.randomUUID()}` }
    const placed = await post(order, headers)
    expect(placed.headers.get('Idempotent-Replayed')).toBeNull()
    const first = (await placed.json()) as { orderId: string }
    const second = await post({ ...order, items: [...order.items].reverse().reverse() }, headers)
    expect(second.status).toBe(202)
    expect(second.headers.get('Idempotent-Replayed')).toBe('true')
    expect(((await second.json()) as { orderId: string }).orderId).toBe(first.orderId)
    expect(second.headers.get('Location')).toBe(`/orders/${first.orderId}`)
    expect(await createdCount()).toBe(before + PER_ORDER)
  })

  it('creates one order for concurrent requests with the same key', async () => {
    const before = await createdCount()
    const headers = { 'Idempotency-Key': `key-${crypto.randomUUID()}` }
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(order, headers)))
    const ids = await Promise.all(answers.map(async (r) => ((await r.json()) as { orderId: string }).orderId))
    expect(answers.map((r) => r.status)).toStrictEqual(Array(8).fill(202))
    expect(new Set(ids).size).toBe(1)
    expect(await createdCount()).toBe(before + PER_ORDER)
  })

  it('answers 422 when a key is reused with a different body', async () => {
    const headers = { 'Idempotency-Key': `key-${crypto.randomUUID()}` }
    expect((await post(order, headers)).status).toBe(202)
    const before = await createdCount()
    const reused = await post({ ...order, customerId: 'someone-else' }, headers)
    expect(reused.status).toBe(422)
    expect(await reused.json()).toMatchObject({ error: 'idempotency_key_reused' })
    expect(await createdCount()).toBe(before)
  })

  it('takes a retry that only spells out the priority the order got as the same request', async () => {
    const same = async (first: object, second: object, key: 'client' | 'admin' = 'client') => {
      const headers = { 'Idempotency-Key': `key-${crypto.randomUUID()}`, ...bearer(key) }
      const a = await post(first, headers)
      const b = await post(second, headers)
      return [
        a.status,
        b.status,
        ((await a.json()) as { orderId: string }).orderId ===
          ((await b.json()) as { orderId?: string }).orderId,
      ]
    }
    // The default, implicit then explicit.
    expect(await same(order, { ...order, priority: 'standard' })).toStrictEqual([202, 202, true])
    // A client key's express is placed as standard: asking for standard next is the same order.
    expect(await same({ ...order, priority: 'express' }, { ...order, priority: 'standard' })).toStrictEqual([
      202,
      202,
      true,
    ])
    // An admin's express is another order than its standard.
    expect(await same({ ...order, priority: 'express' }, order, 'admin')).toStrictEqual([202, 422, false])
  })

  it('keys the stored request digest: a reader of the bucket cannot test a guessed card token', async () => {
    const idempotencyKey = `key-${crypto.randomUUID()}`
    const placed = { ...order, paymentToken: 'tok_guessable_1234' }
    expect((await post(placed, { 'Idempotency-Key': idempotencyKey })).status).toBe(202)
    const kv = await new Kvm(nc).open(BUCKETS.idempotency)
    const entry = await kv.get(await sha256Hex(`client\n${idempotencyKey}`))
    const record = entry?.json<{ fingerprint: string }>()
    expect(record?.fingerprint).toMatch(/^k1:[0-9a-f]{64}$/)
    // Everything but the token is in the record; the right guess hashed plainly does not give its digest.
    expect(record?.fingerprint).not.toContain(await sha256Hex(canonicalJson(placed)))
    expect(JSON.stringify(record)).not.toContain('tok_guessable_1234')
    // Only the token differs: still another request.
    const other = await post({ ...placed, paymentToken: 'tok_ok' }, { 'Idempotency-Key': idempotencyKey })
    expect(other.status).toBe(422)
    expect((await post(placed, { 'Idempotency-Key': idempotencyKey })).status).toBe(202)
  })

  it('never stores a re-published event twice (Nats-Msg-Id)', async () => {
    const { orderId } = (await (await post(order)).json()) as { orderId: string }
    const js = (await import('@nats-io/jetstream')).jetstream(nc)
    const ack = await js.publish(SUBJECTS.orderCreated, '{}', { msgID: orderId })
    expect(ack.duplicate).toBe(true)
  })

  it('rejects bad input with exact statuses and stores nothing', async () => {
    const before = await createdCount()
    expect((await post({ ...order, extra: true })).status).toBe(400)
    const malformed = await service.app.request('/orders', {
      method: 'POST',
      body: '{',
      headers: { 'Content-Type': 'application/json', ...bearer('client') },
    })
    expect(await malformed.json()).toMatchObject({ error: 'malformed_json' })
    const text = await service.app.request('/orders', {
      method: 'POST',
      body: 'x',
      headers: { 'Content-Type': 'text/plain', ...bearer('client') },
    })
    expect(text.status).toBe(415)
    expect((await post({ ...order, customerId: 'x'.repeat(70_000) })).status).toBe(413)
    expect(await createdCount()).toBe(before)
  })

  it('answers 503 quickly while NATS is down and recovers by itself', async () => {
    await server.stop()
    try {
      const started = Date.now()
      const res = await post(order)
      expect(res.status).toBe(503)
      expect(res.headers.get('Retry-After')).toBe('1')
      expect(await res.json()).toMatchObject({ error: 'unavailable' })
      expect(Date.now() - started).toBeLessThan(2_500)
      expect((await service.app.request('/ready')).status).toBe(503)
      expect((await service.app.request('/health')).status).toBe(200)
    } finally {
      await server.restart()
    }
    const accepted = await waitFor(
      async () => {
        const res = await post(order)
        return res.status === 202 ? res : undefined
      },
      { timeoutMs: 20_000, intervalMs: 250, message: 'a 202 after the server restarted' },
    )
    expect(accepted.status).toBe(202)
    await waitFor(async () => (await service.app.request('/ready')).status === 200, {
      timeoutMs: 10_000,
      message: 'ready again',
    })
  })

  it('names the order in the 503 when NATS stops answering while its event is being published', async () => {
    // Connected, but the server answers nothing: the publish is sent and its ack never comes.
    let res: Response
    try {
      await stopAndWait(server.pid)
      res = await post(order)
    } finally {
      process.kill(server.pid, 'SIGCONT')
    }
    expect(res.status).toBe(503)
    expect(res.headers.get('Retry-After')).toBe('1')
    // The event may be stored all the same: the client learns which order to look for.
    expect(await res.json()).toStrictEqual({
      error: 'unavailable',
      // Sent without an Idempotency-Key: a retry would be a new order.
      message: expect.stringContaining('read it before ordering again'),
      orderId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    })
    await waitFor(async () => (await service.app.request('/ready')).status === 200, {
      timeoutMs: 10_000,
      message: 'ready again',
    })
  })
})
