// Priority lanes end to end: who may ask for express, which subjects an
// express order's events travel on (its cancellation too: the customer's and
// the deadline's), and an express order overtaking a standard backlog at
// every stage.
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { OrderCancelRequested } from '../schemas/events.ts'
import { STREAMS, SUBJECTS, toDeadlineFiredSubject, toDeadlineScheduleSubject } from '../schemas/subjects.ts'
import { LANE_SIGNAL_SUBJECT } from '../shared/nats/lane-signals.ts'
import { publishSchedule } from '../shared/nats/schedule.ts'
import { permissionViolations } from './harness/lines.ts'
import { waitFor } from './harness/wait-for.ts'
import { bearer } from './support/provision.ts'
import {
  crashWorker,
  reviveWorker,
  startSagaStack,
  startWorker,
  type SagaStack,
} from './support/saga-stack.ts'
import { readStream } from './support/stream-reader.ts'

let stack: SagaStack

beforeAll(async () => {
  // Small concurrency so a backlog forms; the express lane has its own slots.
  // Analytics too: it reads both lanes and must stay out of the lane signals.
  stack = await startSagaStack({ workerEnv: { CONSUMER_CONCURRENCY: '2' }, analytics: {} })
}, 90_000)

afterAll(async () => {
  await stack?.dispose()
})

async function place(who: 'client' | 'admin', sku: string, priority?: string) {
  const res = await fetch(`${stack.order.url}/orders`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...bearer(who) },
    body: JSON.stringify({
      customerId: 'cust-lane',
      items: [{ sku, quantity: 1 }],
      paymentToken: 'tok_ok',
      ...(priority === undefined ? {} : { priority }),
    }),
  })
  expect(res.status).toBe(202)
  const { orderId } = (await res.json()) as { orderId: string }
  stack.placed.add(orderId)
  return orderId
}

async function orderAs(who: 'client' | 'admin', orderId: string) {
  const res = await fetch(`${stack.order.url}/orders/${orderId}`, { headers: bearer(who) })
  return (await res.json()) as {
    status: string
    priority?: string
    history: { event: string; at: string }[]
  }
}

/** POST /orders/{id}/cancel as `who`. */
async function cancelAs(who: 'client' | 'admin', orderId: string) {
  const res = await fetch(`${stack.order.url}/orders/${orderId}/cancel`, {
    method: 'POST',
    headers: bearer(who),
  })
  return res.status
}

/** The order's record once it is cancelled with `reason` and its stock released (that follows orders.cancelled). */
async function cancelledAndReleased(
  who: 'client' | 'admin',
  orderId: string,
  reason: string,
  timeoutMs = 20_000,
) {
  return await waitFor(
    async () => {
      const o = await orderAs(who, orderId)
      return o.status === 'cancelled' && o.history.some((h) => h.event === SUBJECTS.inventoryReleased) && o
    },
    { timeoutMs, message: `${orderId} cancelled (${reason}) and its stock released` },
  ).then((o) => {
    expect(o).toMatchObject({ status: 'cancelled', reason })
    return o
  })
}

/** The subjects of every event of one order on ORDERS, in stream order (deadline holders left out). */
async function subjectsOf(orderId: string): Promise<string[]> {
  const nc = await connect(stack.server.connectOptions())
  try {
    const stored = await readStream(nc, STREAMS.orders.name)
    return stored
      .filter((m) => (m.json as { orderId?: unknown } | null)?.orderId === orderId)
      .map((m) => m.subject)
  } finally {
    await nc.close()
  }
}

/** Resolves once the payment worker's consumers have nothing left to deliver or ack. */
async function paymentDrained() {
  const nc = await connect(stack.server.connectOptions())
  try {
    const jsm = await jetstreamManager(nc)
    await waitFor(
      async () => {
        for (const durable of ['payment', 'payment-express']) {
          const info = await jsm.consumers.info(STREAMS.orders.name, durable)
          if (info.num_pending > 0 || info.num_ack_pending > 0) return false
        }
        return true
      },
      { timeoutMs: 20_000, message: 'the payment consumers drained' },
    )
  } finally {
    await nc.close()
  }
}

const express = (subjects: readonly string[]) => subjects.map((s) => `${s}.express`)

/** When the payment worker confirmed the order (the event's own time). */
const confirmedAt = (order: { history: { event: string; at: string }[] }): number =>
  Date.parse(order.history.find((h) => h.event === 'payments.completed')?.at ?? 'invalid')

describe('priority lanes', () => {
  it('gives express only to keys that may ask for it, and every event of it travels in the express lane', async () => {
    await stack.setStock('LANE-1', 10, 100)
    // Every worker is told an express order is under way, and when it settles (lane-signals.ts).
    const watcher = await connect(stack.server.connectOptions())
    const signals: { orderId: string; state: string }[] = []
    const sub = watcher.subscribe(LANE_SIGNAL_SUBJECT, {
      callback: (_, msg) => void signals.push(msg.json()),
    })
    await watcher.flush()
    const capped = await place('client', 'LANE-1', 'express')
    const express = await place('admin', 'LANE-1', 'express')
    const standard = await place('client', 'LANE-1')
    for (const [id, who, priority] of [
      [capped, 'client', 'standard'],
      [express, 'admin', 'express'],
      [standard, 'client', 'standard'],
    ] as const) {
      const final = await waitFor(async () => {
        const o = await orderAs(who, id)
        return o.status === 'confirmed' ? o : undefined
      })
      expect(final.priority).toBe(priority)
    }
    await waitFor(() => signals.some((s) => s.state === 'settled'), { message: 'the settled signal' })
    sub.unsubscribe()
    await watcher.close()
    expect(new Set(signals.map((s) => s.orderId))).toStrictEqual(new Set([express]))
    // The intake's and each worker's open (inventory, payment, order-status, for some of them twice), one settled.
    expect(signals.filter((s) => s.state === 'open').length).toBeGreaterThanOrEqual(4)
    expect(signals.filter((s) => s.state === 'settled')).toHaveLength(1)
    const nc = await connect(stack.server.connectOptions())
    try {
      const info = await (
        await jetstreamManager(nc)
      ).streams.info(STREAMS.orders.name, { subjects_filter: '*.*.express' })
      expect(Object.keys(info.state.subjects ?? {}).sort()).toStrictEqual([
        'inventory.reserved.express',
        'orders.created.express',
        'payments.completed.express',
      ])
    } finally {
      await nc.close()
    }
  })

  it('confirms an express order ahead of a standard backlog', async () => {
    await stack.setStock('LANE-2', 1_000, 100)
    // A backlog at payment: standard orders pile up while it is down.
    await crashWorker(stack.payment)
    const backlog = []
    for (let i = 0; i < 150; i++) backlog.push(await place('client', 'LANE-2'))
    const express = await place('admin', 'LANE-2', 'express')
    await reviveWorker(stack.payment)
    const final = async (who: 'client' | 'admin', id: string) =>
      await waitFor(
        async () => {
          const o = await orderAs(who, id)
          return o.status === 'confirmed' ? o : undefined
        },
        { timeoutMs: 60_000, message: `${id} confirmed` },
      )
    const expressAt = confirmedAt(await final('admin', express))
    const standardAt: number[] = []
    for (const id of backlog) standardAt.push(confirmedAt(await final('client', id)))
    expect(Number.isFinite(expressAt) && standardAt.every(Number.isFinite)).toBe(true)
    // Placed last, charged among the first: most of the backlog it came behind was charged after it.
    const chargedAfter = standardAt.filter((t) => t > expressAt).length
    expect(chargedAfter).toBeGreaterThan(backlog.length * 0.8)
  }, 120_000)

  it("cancels an express order in the express lane: the customer's request and all that follows it", async () => {
    await stack.setStock('LANE-CXL', 10, 100)
    // Reserved, not paid: inventory cancels it and releases the hold.
    await crashWorker(stack.payment)
    const reserved = await place('admin', 'LANE-CXL', 'express')
    try {
      await waitFor(async () => (await orderAs('admin', reserved)).status === 'reserved', {
        message: 'express order reserved',
      })
      expect(await cancelAs('admin', reserved)).toBe(202)
      await cancelledAndReleased('admin', reserved, 'customer_request')
    } finally {
      await reviveWorker(stack.payment)
    }
    // Paid: the payment worker's express consumer refunds it.
    const paid = await place('admin', 'LANE-CXL', 'express')
    await waitFor(async () => (await orderAs('admin', paid)).status === 'confirmed', {
      message: 'express order confirmed',
    })
    expect(await cancelAs('admin', paid)).toBe(202)
    await cancelledAndReleased('admin', paid, 'customer_request')
    // Back, the payment worker finds the reserved order cancelled: nothing more, in no lane.
    await paymentDrained()
    expect(await stack.charges(reserved)).toStrictEqual([])

    const cancelled = [SUBJECTS.orderCancelRequested, SUBJECTS.orderCancelled, SUBJECTS.inventoryReleased]
    expect((await subjectsOf(reserved)).sort()).toStrictEqual(
      express([SUBJECTS.orderCreated, SUBJECTS.inventoryReserved, ...cancelled]).sort(),
    )
    expect((await subjectsOf(paid)).sort()).toStrictEqual(
      express([
        SUBJECTS.orderCreated,
        SUBJECTS.inventoryReserved,
        SUBJECTS.paymentCompleted,
        SUBJECTS.paymentRefunded,
        ...cancelled,
      ]).sort(),
    )
  }, 60_000)

  it("fires an express order's deadline in the express lane", async () => {
    await stack.setStock('LANE-DEADLINE', 10, 100)
    const inventory = stack.inventories[0]
    if (inventory === undefined) throw new Error('the stack has no inventory worker')
    // An inventory worker with a short deadline, the payment worker down: the order can only time out.
    await crashWorker(stack.payment)
    await inventory.handle.stop()
    const quick = await startWorker('inventory', { ...inventory.env, ORDER_DEADLINE_MS: '2000' })
    let orderId = ''
    try {
      orderId = await place('admin', 'LANE-DEADLINE', 'express')
      await cancelledAndReleased('admin', orderId, 'deadline_exceeded')
    } finally {
      await quick.handle.stop()
      await reviveWorker(inventory)
      await reviveWorker(stack.payment)
    }
    await paymentDrained()
    expect(await stack.charges(orderId)).toStrictEqual([])
    expect((await subjectsOf(orderId)).sort()).toStrictEqual(
      express([
        SUBJECTS.orderCreated,
        SUBJECTS.inventoryReserved,
        SUBJECTS.orderCancelRequested,
        SUBJECTS.orderCancelled,
        SUBJECTS.inventoryReleased,
      ]).sort(),
    )
  }, 60_000)

  it('still handles a deadline scheduled before cancellations had lanes (plain target)', async () => {
    await stack.setStock('LANE-LEGACY', 10, 100)
    await crashWorker(stack.payment)
    let orderId = ''
    const nc = await connect(stack.server.connectOptions())
    try {
      orderId = await place('admin', 'LANE-LEGACY', 'express')
      await waitFor(async () => (await orderAs('admin', orderId)).status === 'reserved', {
        message: 'express order reserved',
      })
      // What earlier versions scheduled: the plain subject, whatever the order's lane.
      const at = new Date(Date.now() + 300)
      const payload: OrderCancelRequested = {
        version: 1,
        orderId,
        occurredAt: at.toISOString(),
        reason: 'deadline_exceeded',
      }
      await publishSchedule(
        jetstream(nc),
        {
          scheduleSubject: toDeadlineScheduleSubject(orderId),
          target: toDeadlineFiredSubject(SUBJECTS.orderCancelRequested),
          eventSubject: SUBJECTS.orderCancelRequested,
          at,
          payload,
          version: 1,
          correlationId: `legacy-${orderId}`,
          msgId: `deadline-legacy:${orderId}`,
        },
        5_000,
      )
      await cancelledAndReleased('admin', orderId, 'deadline_exceeded')
    } finally {
      await nc.close()
      await reviveWorker(stack.payment)
    }
    await paymentDrained()
    expect(await stack.charges(orderId)).toStrictEqual([])
    // Handled by the standard consumers: what it led to is in the standard lane.
    expect(await subjectsOf(orderId)).toEqual(
      expect.arrayContaining([
        SUBJECTS.orderCancelRequested,
        SUBJECTS.orderCancelled,
        SUBJECTS.inventoryReleased,
      ]),
    )
  }, 60_000)

  it('ran under least privilege with no permission violation on the server', () => {
    expect(permissionViolations(stack.server.log())).toStrictEqual([])
  })

  it('kept the money invariant', async () => {
    await stack.moneyBalanced()
  })
})
