// Express first inside one process (shared/nats/lane-priority.ts), on a real
// nats-server: while an express message is in flight, the standard lane's
// consumer starts no handler, and it resumes the moment the express one is done.
import { describe, expect, it } from 'vitest'
import { laneSubject, SUBJECTS } from '../schemas/subjects.ts'
import type { Handlers } from '../shared/nats/consumer.ts'
import { createLanePriority } from '../shared/nats/lane-priority.ts'
import { waitFor } from './harness/wait-for.ts'
import { orderCreated, startDeadLetterFixture, startFixtureLoop } from './support/dead-letter-fixture.ts'

const EXPRESS = laneSubject(SUBJECTS.orderCreated, 'express')

describe('lane priority inside a worker', () => {
  it('holds standard handlers while an express message is in flight, then lets them run', async () => {
    await using f = await startDeadLetterFixture()
    const lanes = createLanePriority({ maxHoldMs: 30_000 })
    const started: string[] = []
    let releaseExpress: () => void = () => undefined
    const expressHeld = new Promise<void>((resolve) => (releaseExpress = resolve))
    const handlers: Handlers = {
      [SUBJECTS.orderCreated]: async (event, ctx) => {
        started.push(`${ctx.priority}:${event.orderId}`)
        if (ctx.priority === 'express') await expressHeld
        return []
      },
    }
    const consumerOf = (durable: string, subject: string) =>
      startFixtureLoop(f, durable, [subject], handlers, { lanes, maxDeliver: 5, ackWaitMs: 30_000 })
    const standard = await consumerOf('standard', SUBJECTS.orderCreated)
    const express = await consumerOf('express', EXPRESS)
    try {
      const fast = orderCreated()
      await f.publishOrder(fast, 'corr-express', EXPRESS)
      await waitFor(() => started.includes(`express:${fast.orderId}`), { message: 'the express handler' })
      const backlog = [orderCreated(), orderCreated(), orderCreated()]
      for (const [i, order] of backlog.entries()) await f.publishOrder(order, `corr-${i}`)
      // Pulled, but not started while the express message is in flight.
      await waitFor(() => standard.inFlight() === backlog.length, { message: 'the standard messages pulled' })
      await new Promise((r) => setTimeout(r, 300))
      expect(started).toStrictEqual([`express:${fast.orderId}`])

      releaseExpress()
      await waitFor(() => started.length === 1 + backlog.length, { message: 'the standard handlers' })
      expect(started.slice(1).sort()).toStrictEqual(backlog.map((o) => `standard:${o.orderId}`).sort())
      expect(lanes.expressActive()).toBe(0)
    } finally {
      releaseExpress()
      await Promise.all([standard.stop(), express.stop()])
    }
  })
})
