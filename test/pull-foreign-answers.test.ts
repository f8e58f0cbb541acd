// nats-server answers a pull request where its reply subject says, and its
// monitoring port lists every connection's subscriptions, pull inboxes
// included. So an identity with a consumer of its own can aim its pulls at
// another worker's pull inbox: a malformed pull's 400 ends that worker's pull,
// and a valid one delivers its own consumer's messages there. The worker's
// pull loop pulls again at once (no backoff) and handles only messages of its
// own consumer.
import { connect } from '@nats-io/transport-node'
import { createLogger } from '../shared/observability/logger.ts'
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

/** Within the loop's re-read of the limits (5 s) and a pull's wait, not its backoff (up to 5 s a pull). */
const LIMITS_BOUND_MS = 7_000

interface Connz {
  connections: { cid: number; subscriptions_list_detail?: { subject: string }[] }[]
}

describe('pull answers another request aimed at', () => {
  it.each([
    ['a heartbeat the server refuses (400)', { batch: 1, idle_heartbeat: 1_000_000_000 }],
    ['a byte limit no message fits (409)', { batch: 1, max_bytes: 1 }],
    ["a batch over the attacker's consumer's limit (409)", { batch: 1_000_000 }],
  ])(
    'keep the worker pulling and handling only its own consumer: %s',
    async (_name, ending) => {
      await using f = await startDeadLetterFixture({ monitor: true })
      const monitorUrl = f.server.monitorUrl
      if (monitorUrl === undefined) throw new Error('the fixture serves no monitoring port')
      // The attacker's own consumer, on every event; one event only it reads.
      await f.worker('other', ['orders.>'])
      await f.jsm.consumers.update(ORDERS, 'other', { max_batch: 100 })
      await f.publishOrder({ orderId: 'not-the-victims' }, 'corr-other', SUBJECTS.orderCancelled)

      const handled = new Map<string, number>()
      const loop = await startFixtureLoop(f, 'victim', [SUBJECTS.orderCreated], {
        [SUBJECTS.orderCreated]: (event) => {
          handled.set(event.orderId, performance.now())
          return Promise.resolve([])
        },
      })
      const attacker = await connect({ ...f.server.connectOptions(), name: 'attacker' })
      const victimCid = f.nc.info?.client_id
      const aimed = new Set<string>()
      let attacking = true
      const attack = (async () => {
        while (attacking) {
          const res = await fetch(`${monitorUrl}/connz?subs=detail`, { signal: AbortSignal.timeout(2_000) })
          const connz = (await res.json()) as Connz
          const victim = connz.connections.find((c) => c.cid === victimCid)
          for (const { subject } of victim?.subscriptions_list_detail ?? []) {
            if (!subject.startsWith('_INBOX') || subject.endsWith('.*') || aimed.has(subject)) continue
            aimed.add(subject)
            const next = `$JS.API.CONSUMER.MSG.NEXT.${ORDERS}.other`
            // Every fourth pull: a valid pull, the attacker's consumer's message
            // delivered there; the others one whose refusal ends the pull there.
            const body = aimed.size % 4 === 1 ? { batch: 1, no_wait: true } : ending
            attacker.publish(next, JSON.stringify(body), { reply: subject })
          }
          await new Promise((r) => setTimeout(r, 20))
        }
      })()
      try {
        // Orders one at a time, each timed from its publish to its handling.
        const waits: number[] = []
        for (let i = 0; i < 8; i++) {
          await new Promise((r) => setTimeout(r, 300))
          const order = orderCreated()
          const sent = performance.now()
          await f.publishOrder(order, `corr-${i}`)
          await waitFor(() => handled.has(order.orderId), {
            timeoutMs: 15_000,
            message: `order ${i} handled`,
          })
          waits.push((handled.get(order.orderId) ?? Number.NaN) - sent)
        }
        // The attack reached the worker: many of its pulls aimed at, and the
        // attacker's consumer's events delivered into them.
        expect(aimed.size).toBeGreaterThanOrEqual(4)
        const other = await f.jsm.consumers.info(ORDERS, 'other')
        expect(other.num_ack_pending).toBeGreaterThanOrEqual(1)
        // Each order handled at once, not after the backoff a failed pull
        // gets (without the loop's care for foreign answers, two to four of
        // the eight waited 0.17-1.7 s). One in a race may wait an ack wait (1 s
        // here): delivered into the pull the attack ended, whose inbox the
        // client unsubscribes a moment later, it is redelivered once the ack
        // wait runs out.
        expect(waits.filter((ms) => ms > 100).length, `waits ${JSON.stringify(waits)}`).toBeLessThanOrEqual(1)
        expect(Math.max(...waits)).toBeLessThan(limits.ackWaitMs + 1_000)
        const { values } = await f.metrics.messagesHandled.get()
        const victims = values.filter((v) => v.labels.consumer === 'victim')
        expect(victims.map((v) => [v.labels.subject, v.labels.outcome, v.value])).toStrictEqual([
          [SUBJECTS.orderCreated, 'ack', 8],
        ])
        expect(handled.size).toBe(8)
      } finally {
        attacking = false
        await attack
        await attacker.close()
        await loop.stop()
      }
    },
    60_000,
  )

  it("takes a consumer's request limits, also one lowered while it runs", async () => {
    await using f = await startDeadLetterFixture()
    const handled = new Set<string>()
    const loop = await startFixtureLoop(f, 'limited', [SUBJECTS.orderCreated], {
      [SUBJECTS.orderCreated]: (event) => {
        handled.add(event.orderId)
        return Promise.resolve([])
      },
    })
    try {
      // Lowered under the running loop (nats-server's own limits set the
      // same on every consumer): its pulls of up to 4 are refused until it
      // reads the limit again.
      await f.jsm.consumers.update(ORDERS, 'limited', { max_batch: 2 })
      const started = performance.now()
      for (let i = 0; i < 12; i++) await f.publishOrder(orderCreated(), `corr-limit-${i}`)
      await waitFor(() => handled.size === 12, { timeoutMs: 15_000, message: 'twelve orders handled' })
      expect(performance.now() - started).toBeLessThan(LIMITS_BOUND_MS)
    } finally {
      await loop.stop()
    }
  }, 60_000)

  it('says which setting stops it when the consumer allows pulls shorter than a pull can be', async () => {
    await using f = await startDeadLetterFixture()
    let handled = 0
    const lines: string[] = []
    const loop = await startFixtureLoop(
      f,
      'short',
      [SUBJECTS.orderCreated],
      {
        [SUBJECTS.orderCreated]: () => {
          handled++
          return Promise.resolve([])
        },
      },
      {
        logger: createLogger({
          service: 'test',
          level: 'warn',
          format: 'json',
          destination: { write: (line: string) => void lines.push(line) },
        }),
      },
    )
    try {
      await f.jsm.consumers.update(ORDERS, 'short', { max_expires: 500_000_000 })
      await waitFor(
        () => lines.some((l) => l.includes('max_expires (500 ms) is under the 1 s a pull waits at least')),
        {
          timeoutMs: 15_000,
          message: 'the warning naming max_expires',
        },
      )
      // No pull can take it now.
      await f.publishOrder(orderCreated(), 'corr-short')
      await new Promise((resolve) => setTimeout(resolve, 1_500))
      expect(handled).toBe(0)
      // Backed off, not spinning: a handful of attempts in the time, not one every 50 ms.
      expect(lines.length).toBeLessThan(10)
    } finally {
      await loop.stop()
    }
  }, 60_000)
})
