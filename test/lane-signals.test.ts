// Express first across processes (shared/nats/lane-signals.ts), on a real
// nats-server with the generated authorization: an express order announced by
// one process holds another process's standard handlers until the projection
// says it settled, or until the hold runs out; only the lanes' identities may
// announce or listen.
import { randomUUID } from 'node:crypto'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { describe, expect, it } from 'vitest'
import { laneSubject, SUBJECTS } from '../schemas/subjects.ts'
import type { Handlers } from '../shared/nats/consumer.ts'
import { createLanePriority } from '../shared/nats/lane-priority.ts'
import { createLaneSignals, LANE_SIGNAL_SUBJECT, type LaneSignals } from '../shared/nats/lane-signals.ts'
import { createLightMetrics } from '../shared/observability/light-metrics.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { createTokenSealer, generateSealingKeyPair } from '../shared/security/sealed-token.ts'
import { createConnectPerRequestStore } from '../workers/order/connect-per-request.ts'
import type { ServiceIdentity } from '../shared/security/access.ts'
import { waitFor } from './harness/wait-for.ts'
import {
  orderCreated,
  startDeadLetterFixture,
  startFixtureLoop,
  type DeadLetterFixture,
} from './support/dead-letter-fixture.ts'

const logger = createLogger({ service: 'lane-signals-test', level: 'silent' })

/** A second process: its own connection, as `identity`. */
async function processAs(
  f: DeadLetterFixture,
  identity: ServiceIdentity,
  holdMs = 30_000,
): Promise<{ nc: NatsConnection; signals: LaneSignals } & AsyncDisposable> {
  const nc = await connect({ ...f.server.connectOptions(identity), timeout: 5_000 })
  const signals = createLaneSignals({ nc, holdMs, logger })
  return {
    nc,
    signals,
    async [Symbol.asyncDispose]() {
      signals.stop()
      await nc.close()
    },
  }
}

/** A worker whose standard consumer records the orders it starts; it listens to the lane signals as `identity`. */
async function standardWorker(f: DeadLetterFixture, identity: ServiceIdentity, holdMs: number) {
  const lanes = createLanePriority({ maxHoldMs: 30_000 })
  const worker = await processAs(f, identity, holdMs)
  worker.signals.listen(lanes)
  await worker.nc.flush()
  const started: string[] = []
  const handlers: Handlers = {
    [SUBJECTS.orderCreated]: (event) => {
      started.push(event.orderId)
      return Promise.resolve([])
    },
  }
  const loop = await startFixtureLoop(
    f,
    `standard-${randomUUID().slice(0, 8)}`,
    [SUBJECTS.orderCreated],
    handlers,
    {
      lanes,
    },
  )
  return {
    lanes,
    started,
    signals: worker.signals,
    async [Symbol.asyncDispose]() {
      await loop.stop()
      await worker[Symbol.asyncDispose]()
    },
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('lane signals across processes', () => {
  it("holds another process's standard handlers while an express order is under way, until it settles", async () => {
    await using f = await startDeadLetterFixture()
    await using worker = await standardWorker(f, 'inventory', 30_000)
    await using intake = await processAs(f, 'order-edge')
    await using projection = await processAs(f, 'order-status')
    const express = randomUUID()

    intake.signals.open(express)
    await intake.nc.flush()
    await waitFor(() => worker.lanes.expressActive() === 1, { message: 'the hold for the announced order' })
    const backlog = [orderCreated(), orderCreated()]
    for (const [i, order] of backlog.entries()) await f.publishOrder(order, `corr-${i}`)
    await sleep(300)
    expect(worker.started).toStrictEqual([])

    projection.signals.settled(express)
    await projection.nc.flush()
    await waitFor(() => worker.started.length === backlog.length, { message: 'the standard handlers' })
    expect(worker.lanes.expressActive()).toBe(0)

    // A step of the order after its final status (inventory's sale) holds nothing.
    intake.signals.open(express)
    await intake.nc.flush()
    await sleep(100)
    expect(worker.signals.holding()).toBe(0)
  })

  it('announces each express order whose message a worker starts', async () => {
    await using f = await startDeadLetterFixture()
    await using worker = await standardWorker(f, 'order-status', 30_000)
    await using payment = await processAs(f, 'payment')
    const loop = await startFixtureLoop(
      f,
      'express',
      [laneSubject(SUBJECTS.orderCreated, 'express')],
      {
        [SUBJECTS.orderCreated]: () => Promise.resolve([]),
      },
      { laneSignals: payment.signals },
    )
    try {
      const order = orderCreated()
      await f.publishOrder(order, 'corr-express', laneSubject(SUBJECTS.orderCreated, 'express'))
      await waitFor(() => worker.signals.holding() === 1, { message: 'the hold for the express order' })
      // A standard order waits for it.
      const standard = orderCreated()
      await f.publishOrder(standard, 'corr-standard')
      await sleep(300)
      expect(worker.started).toStrictEqual([])
      worker.signals.stop()
      await waitFor(() => worker.started.includes(standard.orderId), { message: 'the standard handler' })
    } finally {
      await loop.stop()
    }
  })

  it("is sent by the edge intake too (a connection per request), before the express order's event", async () => {
    await using f = await startDeadLetterFixture()
    const seen: { subject: string; orderId: string }[] = []
    const sub = f.nc.subscribe('>', {
      callback: (_err, msg) => {
        if (msg.subject !== LANE_SIGNAL_SUBJECT && !msg.subject.startsWith('orders.created')) return
        seen.push({ subject: msg.subject, orderId: msg.json<{ orderId: string }>().orderId })
      },
    })
    await f.nc.flush()
    try {
      const place = async (laneSignalHoldMs: number) => {
        const { store } = createConnectPerRequestStore({
          open: () => connect({ ...f.server.connectOptions('order-edge'), timeout: 5_000 }),
          sealer: await createTokenSealer((await generateSealingKeyPair()).publicJwk),
          logger,
          metrics: createLightMetrics('order-edge'),
          timeoutMs: 5_000,
          laneSignalHoldMs,
        })
        const request = {
          customer: { id: 'c-1' },
          items: [{ sku: 'MUG', quantity: 1 }],
          paymentToken: 'tok_ok',
          priority: 'express' as const,
        }
        const placed = await store.placeOrder({ request, correlationId: 'corr-edge' })
        if (placed.kind !== 'accepted') throw new Error(placed.kind)
        return placed.orderId
      }
      const announced = await place(500)
      await waitFor(() => seen.filter((m) => m.orderId === announced).length === 2, {
        message: 'the signal and the event',
      })
      expect(seen.filter((m) => m.orderId === announced).map((m) => m.subject)).toStrictEqual([
        LANE_SIGNAL_SUBJECT,
        laneSubject(SUBJECTS.orderCreated, 'express'),
      ])
      // LANE_SIGNAL_HOLD_MS=0: no signal.
      const quiet = await place(0)
      await waitFor(() => seen.some((m) => m.orderId === quiet), { message: 'the event' })
      await sleep(200)
      expect(seen.filter((m) => m.orderId === quiet).map((m) => m.subject)).toStrictEqual([
        laneSubject(SUBJECTS.orderCreated, 'express'),
      ])
    } finally {
      sub.unsubscribe()
    }
  })

  it('ends a hold by itself after the hold time when no settled signal comes', async () => {
    await using f = await startDeadLetterFixture()
    await using worker = await standardWorker(f, 'payment', 400)
    await using intake = await processAs(f, 'order')

    intake.signals.open(randomUUID())
    await intake.nc.flush()
    await waitFor(() => worker.signals.holding() === 1, { message: 'the hold' })
    const order = orderCreated()
    const sentAt = performance.now()
    await f.publishOrder(order, 'corr-held')
    await waitFor(() => worker.started.includes(order.orderId), { message: 'the standard handler' })
    expect(performance.now() - sentAt).toBeGreaterThan(250)
    expect(worker.signals.holding()).toBe(0)
  })

  it('ignores what is not a signal and bounds the orders held', async () => {
    await using f = await startDeadLetterFixture()
    const lanes = createLanePriority({ maxHoldMs: 30_000 })
    await using listener = await processAs(f, 'inventory')
    const signals = createLaneSignals({ nc: listener.nc, holdMs: 30_000, logger, maxOpen: 3 })
    signals.listen(lanes)
    await listener.nc.flush()
    for (const bad of [
      'not json',
      '{"orderId":"x","state":"open"}',
      `{"orderId":"${randomUUID()}","state":"hold"}`,
    ])
      f.nc.publish(LANE_SIGNAL_SUBJECT, bad)
    for (let i = 0; i < 5; i++)
      f.nc.publish(LANE_SIGNAL_SUBJECT, JSON.stringify({ orderId: randomUUID(), state: 'open' }))
    await f.nc.flush()
    await waitFor(() => signals.holding() === 3, { message: 'three holds' })
    await sleep(100)
    expect(signals.holding()).toBe(3)
    expect(lanes.expressActive()).toBe(3)
    signals.stop()
    expect(lanes.expressActive()).toBe(0)
  })

  it('lets only the lanes’ identities announce, and only their workers listen', async () => {
    await using f = await startDeadLetterFixture()
    const denied = async (identity: ServiceIdentity, act: (nc: NatsConnection) => void): Promise<boolean> => {
      const nc = await connect({ ...f.server.connectOptions(identity), timeout: 5_000 })
      try {
        const errors: string[] = []
        void (async () => {
          for await (const s of nc.status()) if (s.type === 'error') errors.push(String(s.error))
        })()
        act(nc)
        await nc.flush()
        await sleep(200)
        return errors.some((e) => /permissions violation/i.test(e))
      } finally {
        await nc.close()
      }
    }
    const announce = (nc: NatsConnection) =>
      nc.publish(LANE_SIGNAL_SUBJECT, JSON.stringify({ orderId: randomUUID(), state: 'open' }))
    const listen = (nc: NatsConnection) => void nc.subscribe(LANE_SIGNAL_SUBJECT)
    for (const identity of ['order', 'order-edge', 'order-status', 'inventory', 'payment'] as const)
      expect(await denied(identity, announce), `${identity} announces`).toBe(false)
    for (const identity of ['analytics', 'console'] as const)
      expect(await denied(identity, announce), `${identity} announces`).toBe(true)
    for (const identity of ['order', 'order-status', 'inventory', 'payment'] as const)
      expect(await denied(identity, listen), `${identity} listens`).toBe(false)
    for (const identity of ['order-edge', 'analytics', 'console'] as const)
      expect(await denied(identity, listen), `${identity} listens`).toBe(true)
  })
})
