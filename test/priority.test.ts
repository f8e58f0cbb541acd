// Priority lanes end to end: who may ask for express, which subjects an
// express order's events travel on, and an express order overtaking a
// standard backlog at every stage.
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STREAMS } from '../schemas/subjects.ts'
import { waitFor } from './harness/wait-for.ts'
import { bearer } from './support/provision.ts'
import { crashWorker, reviveWorker, startSagaStack, type SagaStack } from './support/saga-stack.ts'

let stack: SagaStack

beforeAll(async () => {
  // Small concurrency so a backlog forms; the express lane has its own slots.
  stack = await startSagaStack({ workerEnv: { CONSUMER_CONCURRENCY: '2' } })
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

/** When the payment worker confirmed the order (the event's own time). */
const confirmedAt = (order: { history: { event: string; at: string }[] }): number =>
  Date.parse(order.history.find((h) => h.event === 'payments.completed')?.at ?? 'invalid')

describe('priority lanes', () => {
  it('gives express only to keys that may ask for it, and every event of it travels in the express lane', async () => {
    await stack.setStock('LANE-1', 10, 100)
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

  it('kept the money invariant', async () => {
    await stack.moneyBalanced()
  })
})
