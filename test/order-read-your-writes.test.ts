// The intake writes one event per order and nothing else; a GET right after
// the 202 waits (bounded) for the projection. Real nats-server, real KV.
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { v4 as uuidv4, v7 as uuidv7 } from 'uuid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BUCKETS, SUBJECTS } from '../schemas/subjects.ts'
import { KvRecordError } from '../shared/nats/kv-json.ts'
import { DEFAULT_LIMITS, ensureBucket, ensureStreams } from '../shared/nats/topology.ts'
import { createLightMetrics } from '../shared/observability/light-metrics.ts'
import { applyEvent, toOrderCreated } from '../workers/order/domain.ts'
import { mintedAt } from '../schemas/primitives.ts'
import {
  createTokenSealer,
  generateSealingKeyPair,
  type TokenSealer,
} from '../shared/security/sealed-token.ts'
import {
  CLOCK_SKEW_MS,
  createNatsOrderStore,
  FRESH_ORDER_MS,
  type OrderStore,
} from '../workers/order/order-store.ts'
import { createRecentOrders } from '../workers/order/recent-orders.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'

const request = {
  customer: { id: 'cust-ryw' },
  items: [{ sku: 'SKU-1', quantity: 1 }],
  paymentToken: 'tok_ok',
}
const limits = { ...DEFAULT_LIMITS, replicas: 1 }

let server: NatsServerHandle
let nc: NatsConnection
let jsm: JetStreamManager
let statusKv: KV
let idempotencyKv: KV
let sealer: TokenSealer

function store(statusWaitMs: number): OrderStore {
  return createNatsOrderStore({
    recent: createRecentOrders({ ttlMs: FRESH_ORDER_MS }),
    js: jetstream(nc),
    nc,
    statusKv,
    idempotencyKv,
    isConnected: () => !nc.isClosed(),
    metrics: createLightMetrics('test'),
    sealer,
    timeoutMs: 2_000,
    statusWaitMs,
  })
}

/** What the projection writes for `orders.created`. */
async function project(orderId: string): Promise<void> {
  const event = toOrderCreated(request, orderId, new Date(), 'sealed.v1.test')
  const record = applyEvent(null, SUBJECTS.orderCreated, event, {
    at: new Date().toISOString(),
    correlationId: 'corr',
  })
  await statusKv.put(orderId, JSON.stringify(record))
}

async function statusWrites(): Promise<number> {
  return (await jsm.streams.info(`KV_${BUCKETS.orderStatus}`)).state.last_seq
}

beforeAll(async () => {
  sealer = await createTokenSealer((await generateSealingKeyPair()).publicJwk)
  server = await startNatsServer()
  nc = await connect(server.connectOptions())
  jsm = await jetstreamManager(nc)
  await ensureStreams(jsm, limits)
  statusKv = await ensureBucket(nc, BUCKETS.orderStatus, limits)
  idempotencyKv = await ensureBucket(nc, BUCKETS.idempotency, limits)
})

afterAll(async () => {
  await nc?.close().catch(() => undefined)
  await server?.dispose()
})

describe('order ids', () => {
  it('are UUIDv7 and tell when they were minted', async () => {
    const before = Date.now()
    const placed = await store(0).placeOrder({ request, correlationId: 'corr-id' })
    if (placed.kind !== 'accepted') throw new Error(`expected accepted, got ${placed.kind}`)
    expect(placed.orderId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    const minted = mintedAt(placed.orderId)
    expect(minted).not.toBeNull()
    expect(minted).toBeGreaterThanOrEqual(before)
    expect(minted).toBeLessThanOrEqual(Date.now())
    expect(mintedAt(uuidv4())).toBeNull()
  })
})

describe('placing an order', () => {
  it('writes the event and nothing to the status bucket', async () => {
    const before = await statusWrites()
    const placed = await store(0).placeOrder({ request, correlationId: 'corr-one-write' })
    expect(placed.kind).toBe('accepted')
    expect(await statusWrites()).toBe(before)
  })
})

describe('GET right after the 202', () => {
  it('waits for the projection to apply a fresh order', async () => {
    const orderId = uuidv7()
    const started = Date.now()
    setTimeout(() => void project(orderId), 150)
    const order = await store(2_000).getOrder(orderId)
    expect(order).toMatchObject({ orderId, status: 'pending', customerId: 'cust-ryw' })
    const waited = Date.now() - started
    expect(waited).toBeGreaterThanOrEqual(140)
    expect(waited).toBeLessThan(1_500)
  })

  it('answers a fresh order the caller may not see as it answers an unknown one: after the wait', async () => {
    const orderId = uuidv7()
    await project(orderId)
    const timed = async (visible: () => boolean) => {
      const started = Date.now()
      const order = await store(300).getOrder(orderId, visible)
      return { order, waited: Date.now() - started }
    }
    const foreign = await timed(() => false)
    expect(foreign.order).toBeNull()
    expect(foreign.waited).toBeGreaterThanOrEqual(290)
    expect(foreign.waited).toBeLessThan(1_000)
    const own = await timed(() => true)
    expect(own.order).toMatchObject({ orderId })
    expect(own.waited).toBeLessThan(200)
  })

  it('knows the orders it published itself while the projection does not show them, with their owner and lane', async () => {
    const here = store(0)
    const placed = await here.placeOrder({
      request: { ...request, priority: 'express' },
      correlationId: 'corr-recent',
      owner: 'alice',
    })
    if (placed.kind !== 'accepted') throw new Error('not accepted')
    expect(await here.getOrder(placed.orderId)).toBeNull()
    expect(here.recentlyPublished?.(placed.orderId)).toMatchObject({
      owner: 'alice',
      priority: 'express',
      correlationId: 'corr-recent',
    })
    // Another instance (another store) did not publish it: nothing known there.
    expect(store(0).recentlyPublished?.(placed.orderId)).toBeUndefined()
    expect(here.recentlyPublished?.(uuidv7())).toBeUndefined()
  })

  it('gives up after the configured wait', async () => {
    const started = Date.now()
    expect(await store(300).getOrder(uuidv7())).toBeNull()
    const waited = Date.now() - started
    expect(waited).toBeGreaterThanOrEqual(290)
    expect(waited).toBeLessThan(1_000)
  })

  it('answers at once for ids that are not fresh: other versions, old ones, future ones, no wait configured', async () => {
    const old = uuidv7({ msecs: Date.now() - FRESH_ORDER_MS - 1_000 })
    // Made up, from the future: no intake minted it, nothing to wait for.
    const ahead = uuidv7({ msecs: Date.now() + CLOCK_SKEW_MS + 25_000 })
    for (const [id, waitMs] of [
      [uuidv4(), 2_000],
      [old, 2_000],
      [ahead, 2_000],
      ['ffffffff-ffff-7fff-bfff-ffffffffffff', 2_000],
      [uuidv7(), 0],
    ] as const) {
      const started = Date.now()
      expect(await store(waitMs).getOrder(id)).toBeNull()
      expect(Date.now() - started).toBeLessThan(200)
    }
  })
})

describe('a status record that does not parse', () => {
  it('is refused as a record, not taken for an outage', async () => {
    const orderId = uuidv7()
    await statusKv.put(orderId, JSON.stringify({ orderId, status: 'confirmed' }))
    await expect(store(0).getOrder(orderId)).rejects.toThrow(KvRecordError)
    await statusKv.put(orderId, 'not json')
    await expect(store(0).getOrder(orderId)).rejects.toThrow(KvRecordError)
  })
})
