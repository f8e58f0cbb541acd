// A message held while a dependency is down (PauseConsumption) waits for the
// consumer's gate to open, or for the bound its handler gives, whichever is
// first: a payment held by an open breaker is decided at its deadline even if
// the breaker never closes.
import { describe, expect, it } from 'vitest'
import { SUBJECTS } from '../schemas/subjects.ts'
import { PauseConsumption } from '../shared/nats/consumer.ts'
import { createGate } from '../shared/resilience/gate.ts'
import { waitFor } from './harness/wait-for.ts'
import {
  ORDERS,
  orderCreated,
  startDeadLetterFixture,
  startFixtureLoop,
} from './support/dead-letter-fixture.ts'

describe('a held message', () => {
  it('is handled again at the time its handler gives, while the gate stays closed', async () => {
    await using f = await startDeadLetterFixture()
    const gate = createGate(true)
    const calls: number[] = []
    let resumeAt = 0
    const loop = await startFixtureLoop(
      f,
      'held',
      [SUBJECTS.orderCreated],
      {
        [SUBJECTS.orderCreated]: () => {
          calls.push(Date.now())
          if (calls.length === 1) {
            // The dependency went down: the gate closes and stays closed.
            gate.close()
            resumeAt = Date.now() + 1_500
            return Promise.reject(new PauseConsumption('dependency down', 250, resumeAt))
          }
          return Promise.resolve([])
        },
      },
      { gate },
    )
    try {
      await f.publishOrder(orderCreated(), 'corr-held')
      await waitFor(() => calls.length === 2, {
        timeoutMs: 10_000,
        message: 'the held message handled again',
      })
      expect(gate.isOpen()).toBe(false)
      expect(calls[1]).toBeGreaterThanOrEqual(resumeAt - 50)
      await waitFor(async () => (await f.jsm.consumers.info(ORDERS, 'held')).num_ack_pending === 0, {
        message: 'the message acked',
      })
    } finally {
      gate.open()
      await loop.stop()
    }
  })
})

describe('a handler', () => {
  it("is told when the stream stored its message (nats-server's clock, not the publisher's)", async () => {
    await using f = await startDeadLetterFixture()
    const seen: { storedAt: number | undefined; sequence: number | undefined }[] = []
    const loop = await startFixtureLoop(f, 'stored-at', [SUBJECTS.orderCreated], {
      [SUBJECTS.orderCreated]: (_event, ctx) => {
        seen.push({ storedAt: ctx.storedAt, sequence: ctx.streamSequence })
        return Promise.resolve([])
      },
    })
    try {
      const before = Date.now()
      await f.publishOrder({ ...orderCreated(), occurredAt: '2099-01-01T00:00:00.000Z' }, 'corr-stored-at')
      const after = Date.now()
      await waitFor(() => seen.length === 1, { timeoutMs: 10_000, message: 'the message handled' })
      const [{ storedAt, sequence } = { storedAt: undefined, sequence: undefined }] = seen
      const stored = await f.jsm.streams.getMessage(ORDERS, { seq: sequence ?? 0 })
      expect(storedAt).toBe(stored?.time.getTime())
      // Same machine, same clock: within the publish's own round trip.
      expect(storedAt).toBeGreaterThanOrEqual(before - 5)
      expect(storedAt).toBeLessThanOrEqual(after + 5)
    } finally {
      await loop.stop()
    }
  })
})
