// Learns when an order is `confirmed` by watching the order-status KV bucket's
// subject on the server (every projection write), not by polling the service.
import { connect } from '@nats-io/transport-node'
import type { NatsConnection } from '@nats-io/nats-core'
import { natsAuthOptions } from '../../shared/security/nats-identity.ts'
import { createRendezvous } from '../lib/rendezvous.ts'

const PREFIX = '$KV.order-status.'

export interface ConfirmationWatcher {
  /** Resolves with the time (performance.now) the order was seen confirmed, or cancelled. */
  expect(orderId: string): Promise<{ at: number; status: 'confirmed' | 'cancelled' }>
  /** Orders expected but not settled yet. */
  outstanding(): number
  close(): Promise<void>
}

/** `seed`: the identity to connect as (the bench passes the admin's). */
export async function watchConfirmations(natsUrl: string, seed?: string): Promise<ConfirmationWatcher> {
  const nc: NatsConnection = await connect({
    servers: natsUrl,
    name: 'bench-confirm-watch',
    timeout: 5_000,
    ...natsAuthOptions(seed),
  })
  const settled = createRendezvous<{ at: number; status: 'confirmed' | 'cancelled' }>()
  const sub = nc.subscribe(`${PREFIX}>`, {
    callback: (error, msg) => {
      if (error !== null) return
      const at = performance.now()
      const orderId = msg.subject.slice(PREFIX.length)
      if (msg.data.length === 0) return
      const { status } = msg.json<{ status?: string }>()
      if (status !== 'confirmed' && status !== 'cancelled') return
      settled.settle(orderId, { at, status })
    },
  })
  await nc.flush()
  return {
    expect: settled.expect,
    outstanding: settled.outstanding,
    async close() {
      sub.unsubscribe()
      await nc.close()
    },
  }
}
