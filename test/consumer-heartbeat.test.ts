// A handler that runs past the consumer's ack wait keeps its message: the
// consumer tells JetStream `working()` for it, so it is not redelivered.
import { describe, expect, it } from 'vitest'
import { SUBJECTS } from '../schemas/subjects.ts'
import { startConsumer } from '../shared/nats/consumer.ts'
import { durableConsumerConfig, ensureConsumer } from '../shared/nats/topology.ts'
import { waitFor } from './harness/wait-for.ts'
import {
  limits,
  logger,
  ORDERS,
  orderCreated,
  startDeadLetterFixture,
} from './support/dead-letter-fixture.ts'

describe('consumer heartbeat', () => {
  it('handles a message for three ack waits without a redelivery', async () => {
    await using f = await startDeadLetterFixture()
    expect(limits.ackWaitMs).toBe(1_000)
    await f.worker('slow', [SUBJECTS.orderCreated])
    const deliveries: number[] = []
    let handled = 0
    const loop = await startConsumer({
      js: f.js,
      logger,
      metrics: f.metrics,
      stream: ORDERS,
      durable: 'slow',
      handlers: {
        [SUBJECTS.orderCreated]: async (_event, ctx) => {
          deliveries.push(ctx.deliveryCount)
          await new Promise((r) => setTimeout(r, 3 * limits.ackWaitMs))
          handled++
          return []
        },
      },
      concurrency: 4,
      maxDeliver: limits.maxDeliver,
      ackWaitMs: limits.ackWaitMs,
      publishTimeoutMs: 2_000,
      ensureConsumer: () =>
        ensureConsumer(f.jsm, ORDERS, durableConsumerConfig('slow', [SUBJECTS.orderCreated], limits)).then(
          () => undefined,
        ),
      pullExpiresMs: 1_000,
    })
    try {
      await f.publishOrder(orderCreated(), 'corr-slow')
      await waitFor(() => handled === 1, { timeoutMs: 10_000, message: 'the slow message handled' })
      await waitFor(async () => (await f.jsm.consumers.info(ORDERS, 'slow')).num_ack_pending === 0, {
        message: 'the message acked',
      })
      // One more ack wait: nothing comes back.
      await new Promise((r) => setTimeout(r, 1_500))
      expect(deliveries).toStrictEqual([1])
      expect((await f.jsm.consumers.info(ORDERS, 'slow')).num_redelivered).toBe(0)
    } finally {
      await loop.stop()
    }
  })
})
