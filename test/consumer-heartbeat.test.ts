// A handler that runs past the consumer's ack wait keeps its message: the
// consumer tells JetStream `working()` for it, so it is not redelivered.
import { describe, expect, it } from 'vitest'
import { SUBJECTS } from '../schemas/subjects.ts'
import { waitFor } from './harness/wait-for.ts'
import {
  limits,
  ORDERS,
  orderCreated,
  startDeadLetterFixture,
  startFixtureLoop,
} from './support/dead-letter-fixture.ts'

describe('consumer heartbeat', () => {
  it('handles a message for three ack waits without a redelivery', async () => {
    await using f = await startDeadLetterFixture()
    expect(limits.ackWaitMs).toBe(1_000)
    const deliveries: number[] = []
    let handled = 0
    const loop = await startFixtureLoop(f, 'slow', [SUBJECTS.orderCreated], {
      [SUBJECTS.orderCreated]: async (_event, ctx) => {
        deliveries.push(ctx.deliveryCount)
        await new Promise((r) => setTimeout(r, 3 * limits.ackWaitMs))
        handled++
        return []
      },
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
