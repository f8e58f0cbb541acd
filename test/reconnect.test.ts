// Workers ride out a server crash (kill -9, file storage, same ports) and a
// deleted consumer, with no manual step.
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STREAMS } from '../schemas/subjects.ts'
import { waitFor } from './harness/wait-for.ts'
import { startSagaStack, type SagaStack } from './support/saga-stack.ts'
import { itKeepsTheMoneyInvariant } from './support/money.ts'

let stack: SagaStack
const order = { customerId: 'c', items: [{ sku: 'RECON-1', quantity: 1 }], paymentToken: 'tok_ok' }

beforeAll(async () => {
  // Deletes the inventory consumer as admin (the API guard would refuse it).
  stack = await startSagaStack({ apiGuard: false })
  await stack.setStock('RECON-1', 100, 100)
}, 90_000)

afterAll(async () => {
  await stack?.dispose()
})

async function readyStatuses(): Promise<number[]> {
  const urls = [stack.order.url, stack.payment.url, ...stack.inventories.map((i) => i.url)]
  return await Promise.all(
    urls.map((u) =>
      fetch(`${u}/ready`).then(
        (r) => r.status,
        () => 0,
      ),
    ),
  )
}

describe('reconnect', () => {
  it('answers 503 while the server is down and completes orders after it restarts', async () => {
    const before = await stack.placeOrder(order)
    expect((await stack.waitForFinal(before.orderId)).status).toBe('confirmed')

    await stack.server.kill()
    const down = await stack.placeOrder(order)
    expect(down.status).toBe(503)
    // Every request of an outage gets its 503; the log says it once (then once a minute).
    for (let i = 0; i < 5; i++) expect((await stack.placeOrder(order)).status).toBe(503)
    const said = stack.order.handle.lines().filter((l) => l.includes('NATS unavailable; answering 503'))
    expect(said.filter((l) => l.includes('"level":"warn"'))).toHaveLength(1)
    await waitFor(async () => (await readyStatuses()).every((s) => s === 503), {
      message: 'every worker not ready',
    })

    await stack.server.restart()
    const started = Date.now()
    await waitFor(async () => (await readyStatuses()).every((s) => s === 200), {
      timeoutMs: 30_000,
      message: 'every worker ready again',
    })
    const after = await waitFor(
      async () => {
        const placed = await stack.placeOrder(order)
        return placed.status === 202 ? placed : undefined
      },
      { timeoutMs: 20_000, intervalMs: 200, message: 'a 202 after restart' },
    )
    expect((await stack.waitForFinal(after.orderId, 30_000)).status).toBe('confirmed')
    expect(Date.now() - started).toBeLessThan(40_000)
    // The order accepted before the crash is still there (file storage).
    expect((await stack.getOrder(before.orderId))?.status).toBe('confirmed')
  }, 90_000)

  it('re-creates a deleted consumer and goes on', async () => {
    const nc = await connect(stack.server.connectOptions())
    try {
      const jsm = await jetstreamManager(nc)
      expect(await jsm.consumers.delete(STREAMS.orders.name, 'inventory')).toBe(true)
      const placed = await stack.placeOrder(order)
      expect((await stack.waitForFinal(placed.orderId, 30_000)).status).toBe('confirmed')
      expect((await jsm.consumers.info(STREAMS.orders.name, 'inventory')).config.max_deliver).toBe(5)
    } finally {
      await nc.close()
    }
  }, 60_000)

  itKeepsTheMoneyInvariant(() => stack)
})
