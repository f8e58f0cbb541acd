// Owners and Idempotency-Key scoping in the NATS order store. Real nats-server, real KV.
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import * as v from 'valibot'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OrderCreatedV2 } from '../../schemas/events.ts'
import type { OrderStatus } from '../../schemas/order-status.ts'
import { BUCKETS, STREAMS, SUBJECTS } from '../../schemas/subjects.ts'
import { DEFAULT_LIMITS, ensureBucket, ensureStreams } from '../../shared/nats/topology.ts'
import { createLightMetrics } from '../../shared/observability/light-metrics.ts'
import { createTokenSealer, generateSealingKeyPair } from '../../shared/security/sealed-token.ts'
import { startNatsServer, type NatsServerHandle } from '../../test/harness/nats-server.ts'
import {
  createNatsOrderStore,
  UnavailableError,
  type NatsOrderStoreDeps,
  type OrderStore,
  type PlaceOrderInput,
} from './order-store.ts'

const request = {
  customer: { id: 'cust-owner' },
  items: [{ sku: 'SKU-1', quantity: 1 }],
  paymentToken: 'tok_ok',
}
const limits = { ...DEFAULT_LIMITS, replicas: 1 }

let server: NatsServerHandle
let nc: NatsConnection
let jsm: JetStreamManager
let statusKv: KV
let store: OrderStore

beforeAll(async () => {
  server = await startNatsServer()
  nc = await connect(server.connectOptions())
  jsm = await jetstreamManager(nc)
  await ensureStreams(jsm, limits)
  statusKv = await ensureBucket(nc, BUCKETS.orderStatus, limits)
  store = await storeWith()
})

/** A store on the test's server: a fresh sealing key, a 2 s deadline, unless given. */
async function storeWith(
  overrides: Partial<Pick<NatsOrderStoreDeps, 'sealer' | 'timeoutMs'>> = {},
): Promise<OrderStore> {
  return createNatsOrderStore({
    js: jetstream(nc),
    nc,
    statusKv,
    idempotencyKv: await ensureBucket(nc, BUCKETS.idempotency, limits),
    isConnected: () => !nc.isClosed(),
    metrics: createLightMetrics('test'),
    sealer: await createTokenSealer((await generateSealingKeyPair()).publicJwk),
    timeoutMs: 2_000,
    ...overrides,
  })
}

afterAll(async () => {
  await nc?.close().catch(() => undefined)
  await server?.dispose()
})

async function place(input: Omit<PlaceOrderInput, 'request' | 'correlationId'>) {
  const placed = await store.placeOrder({ request, correlationId: 'corr-owner', ...input })
  if (placed.kind !== 'accepted') throw new Error(`expected accepted, got ${placed.kind}`)
  return placed
}

/** The last orders.created in the stream, which must be `orderId`'s. */
async function createdEvent(orderId: string) {
  const msg = await jsm.streams.getMessage(STREAMS.orders.name, { last_by_subj: SUBJECTS.orderCreated })
  const event = v.parse(OrderCreatedV2, msg?.json())
  expect(event.orderId).toBe(orderId)
  return event
}

describe('order owners', () => {
  it('records the API key id as the owner in orders.created', async () => {
    const placed = await place({ owner: 'alice' })
    expect((await createdEvent(placed.orderId)).owner).toBe('alice')
  })

  it('scopes an Idempotency-Key to the key id: two keys get two orders, one key gets one', async () => {
    const alice = await place({ owner: 'alice', idempotencyKey: 'same-key' })
    const bob = await place({ owner: 'bob', idempotencyKey: 'same-key' })
    const aliceAgain = await place({ owner: 'alice', idempotencyKey: 'same-key' })

    expect(bob.orderId).not.toBe(alice.orderId)
    expect([alice.replayed, bob.replayed]).toStrictEqual([false, false])
    expect(aliceAgain).toMatchObject({ orderId: alice.orderId, replayed: true })
  })

  it("answers a replay with the projection's current status, pending until it has one", async () => {
    const first = await place({ owner: 'alice', idempotencyKey: 'status-key' })
    const early = await place({ owner: 'alice', idempotencyKey: 'status-key' })
    const confirmed: OrderStatus = {
      orderId: first.orderId,
      owner: 'alice',
      status: 'confirmed',
      updatedAt: new Date().toISOString(),
      history: [],
    }
    await statusKv.put(first.orderId, JSON.stringify(confirmed))
    const late = await place({ owner: 'alice', idempotencyKey: 'status-key' })

    expect([first.status, early.status, late.status]).toStrictEqual(['pending', 'pending', 'confirmed'])
    expect(late).toMatchObject({ orderId: first.orderId, replayed: true })
  })
})

describe('a request that gave up (503)', () => {
  it('publishes nothing afterwards when it gave up before the publish started, and names no order', async () => {
    const sealer = await createTokenSealer((await generateSealingKeyPair()).publicJwk)
    const slow = await storeWith({
      // Sealing outlasts the request's deadline: the publish would start after the 503.
      sealer: {
        seal: async (token, orderId) => {
          await new Promise((resolve) => setTimeout(resolve, 300))
          return sealer.seal(token, orderId)
        },
      },
      timeoutMs: 100,
    })
    const before = (await jsm.streams.info(STREAMS.orders.name)).state.messages
    const failed = await slow.placeOrder({ request, correlationId: 'corr-gave-up' }).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(failed).toBeInstanceOf(UnavailableError)
    expect((failed as UnavailableError).orderId).toBeUndefined()
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect((await jsm.streams.info(STREAMS.orders.name)).state.messages).toBe(before)
  })
})
