// The console's timeline on a real nats-server: an order's event is found
// among hundreds of others of its subject stored around its time (a busy
// saga); an order's deadline relayed into ORDERS shows as fired by a
// schedule, a customer's cancellation not; during an `orders.created`
// migration window an order has a version 1 copy (`Event-Twin-Version: 2`,
// held and skipped by this release's consumers) and its version 2 event,
// stored next, and the timeline shows the event the saga acted on.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { headers, type NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deadlineMsgId, HEADERS, SUBJECTS } from '../schemas/subjects.ts'
import { DEFAULT_LIMITS, ensureStreams } from '../shared/nats/topology.ts'
import type { IndexReader } from '../workers/console/index-query.ts'
import { buildTimeline } from '../workers/console/timeline.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'

let server: NatsServerHandle
let nc: NatsConnection
let jsm: JetStreamManager

beforeAll(async () => {
  server = await startNatsServer({ websocket: false })
  nc = await connect(server.connectOptions())
  jsm = await jetstreamManager(nc)
  await ensureStreams(jsm, DEFAULT_LIMITS)
})

afterAll(async () => {
  await nc?.close()
  await server?.dispose()
})

/** No retries or dead letters filed for the order. */
const emptyIndex: IndexReader = {
  count: () => Promise.resolve(0),
  list: () => Promise.resolve([]),
  lastOfEach: () => Promise.resolve([]),
}

const publish = async (subject: string, orderId: string, msgID: string, at: string) =>
  (await jsm.jetstream().publish(subject, JSON.stringify({ orderId, occurredAt: at }), { msgID })).seq

async function messageOf(orderId: string, event: string, at: string) {
  const timeline = await buildTimeline(
    { jsm, index: emptyIndex, timeoutMs: 5_000 },
    { orderId, status: 'pending', history: [{ event, status: 'pending', at }] },
    [],
  )
  return timeline.events[0]?.message
}

describe('console timeline', () => {
  it("finds an order's event behind 600 others of its subject stored since its time", async () => {
    const orderId = crypto.randomUUID()
    const at = new Date().toISOString()
    const others = Array.from({ length: 600 }, () => crypto.randomUUID())
    await Promise.all(others.map((id) => publish(SUBJECTS.orderCreated, id, id, at)))
    const seq = await publish(SUBJECTS.orderCreated, orderId, orderId, at)
    expect(await messageOf(orderId, SUBJECTS.orderCreated, at)).toMatchObject({ seq })
  })

  it("finds an event stored before its time (its producer's clock ahead of nats-server's by 500 ms)", async () => {
    const orderId = crypto.randomUUID()
    const at = new Date(Date.now() + 500).toISOString()
    const seq = await publish(SUBJECTS.orderCreated, orderId, orderId, at)
    expect(await messageOf(orderId, SUBJECTS.orderCreated, at)).toMatchObject({ seq })
  })

  it("marks a deadline relayed into ORDERS as fired by a schedule, a customer's cancellation not", async () => {
    const at = new Date().toISOString()
    const deadline = crypto.randomUUID()
    const customer = crypto.randomUUID()
    await publish(SUBJECTS.orderCancelRequested, deadline, deadlineMsgId(deadline), at)
    await publish(SUBJECTS.orderCancelRequested, customer, `cancel:${customer}`, at)
    expect(await messageOf(deadline, SUBJECTS.orderCancelRequested, at)).toMatchObject({ scheduled: true })
    expect(await messageOf(customer, SUBJECTS.orderCancelRequested, at)).toMatchObject({ scheduled: false })
  })
})

async function publishCreated(orderId: string, version: 1 | 2, twin?: 2): Promise<number> {
  const h = headers()
  h.set(HEADERS.correlationId, `corr-${orderId}`)
  h.set(HEADERS.eventVersion, String(version))
  if (twin !== undefined) h.set(HEADERS.twinVersion, String(twin))
  const occurredAt = new Date().toISOString()
  const body =
    version === 1
      ? { version, orderId, occurredAt, customerId: 'c', items: [{ sku: 'A', quantity: 1 }] }
      : { version, orderId, occurredAt, customer: { id: 'c' }, items: [{ sku: 'A', quantity: 1 }] }
  const js = jsm.jetstream()
  const ack = await js.publish(SUBJECTS.orderCreated, JSON.stringify(body), {
    headers: h,
    msgID: version === 1 ? orderId : `${orderId}:v2`,
  })
  return ack.seq
}

async function createdEventOf(orderId: string) {
  const timeline = await buildTimeline(
    { jsm, index: emptyIndex, timeoutMs: 5_000 },
    {
      orderId,
      status: 'pending',
      history: [{ event: SUBJECTS.orderCreated, status: 'pending', at: new Date().toISOString() }],
    },
    [],
  )
  return timeline.events[0]?.message
}

describe('console timeline during an orders.created migration window', () => {
  it('shows the version 2 event of an order published in both versions, not the copy for older readers', async () => {
    const orderId = crypto.randomUUID()
    await publishCreated(orderId, 1, 2)
    const v2 = await publishCreated(orderId, 2)
    expect(await createdEventOf(orderId)).toMatchObject({ seq: v2, msgId: `${orderId}:v2` })
  })

  it('shows the copy when it is all the order has', async () => {
    const orderId = crypto.randomUUID()
    const copy = await publishCreated(orderId, 1, 2)
    expect(await createdEventOf(orderId)).toMatchObject({ seq: copy, msgId: orderId })
  })

  it('shows a version 1 event published alone', async () => {
    const orderId = crypto.randomUUID()
    const only = await publishCreated(orderId, 1)
    expect(await createdEventOf(orderId)).toMatchObject({ seq: only, msgId: orderId })
  })
})
