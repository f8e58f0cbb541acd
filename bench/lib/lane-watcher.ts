// Watches the order-status KV subject on the server (every projection write,
// as the end-to-end section does): when each express order settles, with its
// events' own times, and when each standard order was confirmed. The record
// carries the order's lane.
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { natsAuthOptions } from '../../shared/security/nats-identity.ts'
import { createRendezvous } from './rendezvous.ts'

const PREFIX = '$KV.order-status.'

export interface Settled {
  /** performance.now() when the record was seen, and Date.now() then. */
  at: number
  wallAt: number
  status: 'confirmed' | 'cancelled'
  /** When the projection applied the settling event (the record's `updatedAt`, ms since the epoch). */
  recordedAt: number
  /** Each applied event's own time (`occurredAt`, ms since the epoch), by subject. */
  events: Record<string, number>
}

export interface LaneWatcher {
  /** Resolves when the express order `orderId` is confirmed or cancelled (performance.now). */
  express(orderId: string): Promise<Settled>
  /** When each standard order was seen confirmed (performance.now), in arrival order. */
  readonly standardConfirmedAt: readonly number[]
  standardCancelled(): number
  close(): Promise<void>
}

/** Watches every order-status write; `seed` is the identity to read as (the admin's). */
export async function watchLanes(natsUrl: string, seed: string): Promise<LaneWatcher> {
  const nc: NatsConnection = await connect({
    servers: natsUrl,
    name: 'bench-lane-watch',
    timeout: 5_000,
    ...natsAuthOptions(seed),
  })
  const expressSettled = createRendezvous<Settled>()
  const standardSeen = new Set<string>()
  const standardConfirmedAt: number[] = []
  let standardCancelled = 0
  const sub = nc.subscribe(`${PREFIX}>`, {
    callback: (error, msg) => {
      if (error !== null || msg.data.length === 0) return
      const at = performance.now()
      const wallAt = Date.now()
      const orderId = msg.subject.slice(PREFIX.length)
      const { status, priority, history, updatedAt } = msg.json<{
        status?: string
        priority?: string
        updatedAt?: string
        history?: { event: string; at: string }[]
      }>()
      if (status !== 'confirmed' && status !== 'cancelled') return
      if (priority !== 'express') {
        if (standardSeen.has(orderId)) return
        standardSeen.add(orderId)
        if (status === 'confirmed') standardConfirmedAt.push(at)
        else standardCancelled++
        return
      }
      const events = Object.fromEntries((history ?? []).map((h) => [h.event, Date.parse(h.at)]))
      const recordedAt = updatedAt === undefined ? Number.NaN : Date.parse(updatedAt)
      expressSettled.settle(orderId, { at, wallAt, status, recordedAt, events })
    },
  })
  await nc.flush()
  return {
    express: expressSettled.expect,
    standardConfirmedAt,
    standardCancelled: () => standardCancelled,
    async close() {
      sub.unsubscribe()
      await nc.close()
    },
  }
}
