// nats-server answers a pull request where its reply subject says, and its
// monitoring port lists every connection's subscriptions, pull inboxes
// included. So an identity with a consumer of its own can aim its pulls at
// another worker's pull inbox: a malformed pull's 400 ends that worker's pull,
// and a valid one delivers its own consumer's messages there. The worker's
// pull loop pulls again at once (no backoff) and handles only messages of its
// own consumer.
import { connect } from '@nats-io/transport-node'
import { describe, expect, it } from 'vitest'
import { SUBJECTS } from '../schemas/subjects.ts'
import { waitFor } from './harness/wait-for.ts'
import {
  ORDERS,
  orderCreated,
  startDeadLetterFixture,
  startFixtureLoop,
} from './support/dead-letter-fixture.ts'

interface Connz {
  connections: { cid: number; subscriptions_list_detail?: { subject: string }[] }[]
}

describe('pull answers another request aimed at', () => {
  it('keep the worker pulling and handling only its own consumer', async () => {
    await using f = await startDeadLetterFixture({ monitor: true })
    const monitorUrl = f.server.monitorUrl
    if (monitorUrl === undefined) throw new Error('the fixture serves no monitoring port')
    // The attacker's own consumer, on every event; one event only it reads.
    await f.worker('other', ['orders.>'])
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
          // Every other pull: a valid pull, the attacker's consumer's message
          // delivered there; or a heartbeat the server refuses, its 400 too.
          const body =
            aimed.size % 2 === 0 ? { batch: 1, no_wait: true } : { batch: 1, idle_heartbeat: 1_000_000_000 }
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
        await waitFor(() => handled.has(order.orderId), { timeoutMs: 15_000, message: `order ${i} handled` })
        waits.push((handled.get(order.orderId) ?? Number.NaN) - sent)
      }
      // The attack reached the worker: many of its pulls aimed at, and the
      // attacker's consumer's events delivered into them.
      expect(aimed.size).toBeGreaterThanOrEqual(4)
      const other = await f.jsm.consumers.info(ORDERS, 'other')
      expect(other.num_ack_pending).toBeGreaterThanOrEqual(1)
      // Each order handled within a second (the backoff a failed pull gets
      // would reach 5 s), and the victim handled nothing of the other consumer.
      expect(Math.max(...waits)).toBeLessThan(1_000)
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
  }, 60_000)
})
