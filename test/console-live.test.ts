// The console's live list on a real KV bucket: every order changed within one
// interval reaches a subscriber, in batches of at most MAX_BATCH, however many
// changed (the page applies changes and never reads the list again).
import { Kvm, type KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../shared/observability/logger.ts'
import { MAX_BATCH, startLiveOrders, type OrderChange } from '../workers/console/live.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'
import { waitFor } from './harness/wait-for.ts'

let server: NatsServerHandle
let nc: NatsConnection
let kv: KV

beforeAll(async () => {
  server = await startNatsServer()
  nc = await connect(server.connectOptions())
  kv = await new Kvm(nc).create('console-live-test', { history: 1 })
})

afterAll(async () => {
  await nc?.close().catch(() => undefined)
  await server?.dispose()
})

describe('live orders', () => {
  it('sends every order changed within one interval, in batches of at most MAX_BATCH', async () => {
    const orders = 2 * MAX_BATCH + 50
    // One long interval: every write below lands before the first batch goes.
    const live = await startLiveOrders(kv, {
      logger: createLogger({ service: 't', level: 'silent' }),
      intervalMs: 2_000,
    })
    const batches: OrderChange[][] = []
    const unsubscribe = live.subscribe((batch) => batches.push(batch))
    const ids = Array.from({ length: orders }, () => crypto.randomUUID())
    const first = ids[0] ?? ''
    try {
      await Promise.all(ids.map((id) => kv.put(id, JSON.stringify({ orderId: id, status: 'pending' }))))
      // A second change of the first order: coalesced, its newest status sent.
      await kv.put(first, JSON.stringify({ orderId: first, status: 'confirmed', priority: 'express' }))
      // Coalesced within an interval: the first order's newest status is the last sent.
      const seen = await waitFor(
        () => {
          const all = batches.flat()
          const seenIds = new Set(all.map((c) => c.orderId))
          const o0 = all.filter((c) => c.orderId === first).at(-1)
          return seenIds.size === orders && o0?.status === 'confirmed' && o0.priority === 'express' && all
        },
        { timeoutMs: 10_000, message: `${orders} orders in the live batches` },
      )
      // Nothing dropped, each order once per interval it changed in (the first at most twice).
      expect(seen.length).toBeGreaterThanOrEqual(orders)
      expect(seen.length).toBeLessThanOrEqual(orders + 1)
      expect(batches.length).toBeGreaterThanOrEqual(3)
      for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(MAX_BATCH)
    } finally {
      unsubscribe()
      await live.stop()
    }
  })

  it("sends no record that is not its key's order: a forged id never reaches the page, the real ones do", async () => {
    const live = await startLiveOrders(kv, {
      logger: createLogger({ service: 't', level: 'silent' }),
      intervalMs: 200,
    })
    const batches: OrderChange[][] = []
    const unsubscribe = live.subscribe((batch) => batches.push(batch))
    const [forgedKey, otherKey, realKey, elsewhere] = Array.from({ length: 4 }, () => crypto.randomUUID())
    try {
      await kv.put(forgedKey ?? '', JSON.stringify({ orderId: 'x"]', status: 'confirmed' }))
      await kv.put(otherKey ?? '', JSON.stringify({ orderId: elsewhere, status: 'confirmed' }))
      await kv.put(realKey ?? '', JSON.stringify({ orderId: realKey, status: 'confirmed' }))
      const sent = await waitFor(() => batches.flat().some((c) => c.orderId === realKey) && batches.flat(), {
        timeoutMs: 5_000,
        message: 'the real order in a live batch',
      })
      expect(sent.map((c) => c.orderId)).toStrictEqual([realKey])
    } finally {
      unsubscribe()
      await live.stop()
    }
  })
})
