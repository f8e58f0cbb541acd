// The order-status projection on a real KV bucket: one write per event and no
// reads while it is the only writer, and still no lost or doubled update when
// another writer (a second projection process) changes the record under it.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import { headers, type NatsConnection, type Subscription } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { v7 as uuidv7 } from 'uuid'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EventOf } from '../schemas/events.ts'
import { OrderStatusV1 } from '../schemas/order-status.ts'
import { BUCKETS, HEADERS, SUBJECTS, type Subject } from '../schemas/subjects.ts'
import type { Handlers, MessageContext } from '../shared/nats/consumer.ts'
import { readJson } from '../shared/nats/kv-json.ts'
import { DEFAULT_LIMITS, ensureBucket, filtersOf } from '../shared/nats/topology.ts'
import { createConsoleLogger } from '../shared/observability/console-logger.ts'
import { toOrderCreated } from '../workers/order/domain.ts'
import {
  createProjectionHandlers,
  PROJECTION_CONSUMER,
  PROJECTION_EXPRESS_CONSUMER,
} from '../workers/order/projection.ts'
import { workerSecrets } from './harness/test-secrets.ts'
import { provisionNats } from './support/provision.ts'
import { loadOrderStatusConfig } from '../workers/order/status-config.ts'
import { startOrderStatusService } from '../workers/order/status-service.ts'
import { createMetrics } from '../shared/observability/metrics.ts'
import { jetstream } from '@nats-io/jetstream'
import { STREAMS } from '../schemas/subjects.ts'
import { waitFor } from './harness/wait-for.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'

const STREAM = `KV_${BUCKETS.orderStatus}`
const ctx: MessageContext = {
  correlationId: 'corr-projection',
  priority: 'standard',
  deliveryCount: 1,
  logger: createConsoleLogger({ service: 'test', level: 'silent' }),
}

let server: NatsServerHandle
let nc: NatsConnection
let jsm: JetStreamManager
let kv: KV
/** Every direct or API read of the bucket's stream, seen on the wire. */
let reads: Subscription
let readCount = 0

function events(orderId: string, at: number) {
  const created = toOrderCreated(
    { customer: { id: 'cust-p' }, items: [{ sku: 'SKU-P', quantity: 2 }], paymentToken: 'tok_ok' },
    orderId,
    new Date(at),
    'sealed.v1.test',
  )
  const base = { version: 1 as const, orderId }
  const reserved: EventOf<typeof SUBJECTS.inventoryReserved> = {
    ...base,
    occurredAt: new Date(at + 1).toISOString(),
    items: [{ sku: 'SKU-P', quantity: 2, unitPriceCents: 500 }],
    amountCents: 1000,
    currency: 'USD',
    sealedPaymentToken: 'sealed.v1.test',
  }
  const completed: EventOf<typeof SUBJECTS.paymentCompleted> = {
    ...base,
    occurredAt: new Date(at + 2).toISOString(),
    chargeId: 'ch_1',
    amountCents: 1000,
    currency: 'USD',
  }
  return { created, reserved, completed }
}

async function apply<S extends Subject>(handlers: Handlers, subject: S, event: EventOf<S>): Promise<void> {
  const handler = handlers[subject]
  if (handler === undefined) throw new Error(`no handler for ${subject}`)
  await handler(event, ctx)
}

const writes = async (): Promise<number> => (await jsm.streams.info(STREAM)).state.last_seq

/** Reads seen so far, after a round trip so every request sent before has arrived. */
async function readsSoFar(): Promise<number> {
  await nc.flush()
  return readCount
}

beforeAll(async () => {
  server = await startNatsServer()
  nc = await connect(server.connectOptions())
  jsm = await jetstreamManager(nc)
  kv = await ensureBucket(nc, BUCKETS.orderStatus, { ...DEFAULT_LIMITS, replicas: 1 })
  // Core NATS fans every API request out to this subscriber too.
  reads = nc.subscribe('$JS.API.>', {
    callback: (_, m) => {
      if (/^\$JS\.API\.(STREAM\.MSG|DIRECT)\.GET\./.test(m.subject) && m.subject.includes(STREAM)) readCount++
    },
  })
})

afterAll(async () => {
  reads?.unsubscribe()
  await nc?.close().catch(() => undefined)
  await server?.dispose()
})

describe('order-status projection', () => {
  it('writes once per event and reads nothing while it is the only writer (a redelivery reads once)', async () => {
    const handlers = createProjectionHandlers(kv)
    const orderId = uuidv7()
    const { created, reserved, completed } = events(orderId, Date.now())
    const [writesBefore, readsBefore] = [await writes(), await readsSoFar()]

    await apply(handlers, SUBJECTS.orderCreated, created)
    await apply(handlers, SUBJECTS.inventoryReserved, reserved)
    await apply(handlers, SUBJECTS.paymentCompleted, completed)
    expect(await writes()).toBe(writesBefore + 3)
    expect(await readsSoFar()).toBe(readsBefore)

    // Redelivered: nothing to write, decided on a fresh read.
    await apply(handlers, SUBJECTS.inventoryReserved, reserved)
    expect(await writes()).toBe(writesBefore + 3)
    expect(await readsSoFar()).toBe(readsBefore + 1)
    const record = await readJson(kv, orderId, OrderStatusV1)
    expect(record?.value).toMatchObject({ orderId, status: 'confirmed', chargeId: 'ch_1', amountCents: 1000 })
    expect(record?.value.history.map((h) => h.event)).toStrictEqual([
      SUBJECTS.orderCreated,
      SUBJECTS.inventoryReserved,
      SUBJECTS.paymentCompleted,
    ])
  })

  it('loses no update when another writer changed the record since it last wrote', async () => {
    const first = createProjectionHandlers(kv)
    const second = createProjectionHandlers(kv)
    const orderId = uuidv7()
    const { created, reserved, completed } = events(orderId, Date.now())

    await apply(first, SUBJECTS.orderCreated, created)
    await apply(second, SUBJECTS.orderCreated, created) // assumes a new key: conflict, reads, nothing to do
    await apply(second, SUBJECTS.inventoryReserved, reserved)
    const readsBefore = await readsSoFar()
    await apply(first, SUBJECTS.paymentCompleted, completed) // its revision is stale: conflict, read, retry
    expect(await readsSoFar()).toBeGreaterThan(readsBefore)

    const record = await readJson(kv, orderId, OrderStatusV1)
    expect(record?.value.status).toBe('confirmed')
    expect(record?.value.history.map((h) => h.event)).toStrictEqual([
      SUBJECTS.orderCreated,
      SUBJECTS.inventoryReserved,
      SUBJECTS.paymentCompleted,
    ])
  })

  it('forgets the oldest orders beyond its cache and reads them again', async () => {
    const handlers = createProjectionHandlers(kv, () => new Date(), 2)
    const [oldest, , newest] = [uuidv7(), uuidv7(), uuidv7()].map((id) => events(id, Date.now()))
    if (oldest === undefined || newest === undefined) throw new Error('unreachable')
    for (const e of [oldest, newest]) await apply(handlers, SUBJECTS.orderCreated, e.created)
    const middle = events(uuidv7(), Date.now())
    await apply(handlers, SUBJECTS.orderCreated, middle.created) // the cache holds newest and middle
    const readsBefore = await readsSoFar()
    await apply(handlers, SUBJECTS.inventoryReserved, newest.reserved) // cached: no read
    expect(await readsSoFar()).toBe(readsBefore)
    await apply(handlers, SUBJECTS.inventoryReserved, oldest.reserved) // evicted: read first
    expect(await readsSoFar()).toBe(readsBefore + 1)
    for (const e of [oldest, newest]) {
      expect((await readJson(kv, e.created.orderId, OrderStatusV1))?.value.status).toBe('reserved')
    }
  })

  it('runs as the order-status service: a consumer per lane applies every event of either lane', async () => {
    await provisionNats([server.url])
    const config = loadOrderStatusConfig({
      ...(await workerSecrets('order-status')),
      NATS_URL: server.url,
      LOG_LEVEL: 'silent',
      PORT: '0',
    })
    const service = await startOrderStatusService(config, {
      connect,
      logger: createConsoleLogger({ service: 'order-status', level: 'silent' }),
      metrics: createMetrics('order-status'),
    })
    try {
      const standard = await jsm.consumers.info(STREAMS.orders.name, PROJECTION_CONSUMER)
      expect(filtersOf(standard.config)).toContain(SUBJECTS.orderCreated)
      const express = await jsm.consumers.info(STREAMS.orders.name, PROJECTION_EXPRESS_CONSUMER)
      expect(filtersOf(express.config)).toStrictEqual(['*.*.express'])
      const js = jetstream(nc)
      for (const lane of ['', '.express']) {
        const orderId = uuidv7()
        const { created, reserved } = events(orderId, Date.now())
        // What every publisher sets (the consumers refuse an event without them).
        const h = headers()
        h.set(HEADERS.correlationId, `corr-${orderId}`)
        h.set(HEADERS.eventVersion, '1')
        await js.publish(`${SUBJECTS.orderCreated}${lane}`, JSON.stringify(created), {
          msgID: orderId,
          headers: h,
        })
        await js.publish(`${SUBJECTS.inventoryReserved}${lane}`, JSON.stringify(reserved), {
          msgID: `reserved:${orderId}`,
          headers: h,
        })
        const record = await waitFor(
          async () => {
            const r = await readJson(kv, orderId, OrderStatusV1)
            return r?.value.status === 'reserved' ? r.value : undefined
          },
          { timeoutMs: 10_000, message: `the order reserved in the projection (lane '${lane}')` },
        )
        expect(record.history.map((h) => h.event)).toStrictEqual([
          SUBJECTS.orderCreated,
          SUBJECTS.inventoryReserved,
        ])
      }
      expect((await service.app.request('/ready')).status).toBe(200)
    } finally {
      await service.stopConsuming()
      await service.close()
    }
  })
})
