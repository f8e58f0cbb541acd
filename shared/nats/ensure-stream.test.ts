import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream'
import { describe, expect, it } from 'vitest'
import { ensureStream, ReplicasLoweredError } from './topology.ts'

/** Just the two calls ensureStream makes on an existing stream. */
function managerWith(existing: Partial<StreamConfig>) {
  const updates: Partial<StreamConfig>[] = []
  const jsm = {
    streams: {
      info: () => Promise.resolve({ config: existing }),
      update: (_name: string, config: Partial<StreamConfig>) => {
        updates.push(config)
        return Promise.resolve({ config })
      },
    },
  } as unknown as JetStreamManager
  return { jsm, updates }
}

describe('ensureStream on an existing stream', () => {
  it('refuses to lower its replicas, naming the setting, and changes nothing', async () => {
    const { jsm, updates } = managerWith({ name: 'ORDERS', num_replicas: 3, max_age: 1 })
    await expect(ensureStream(jsm, { name: 'ORDERS', num_replicas: 1 })).rejects.toThrow(ReplicasLoweredError)
    await expect(ensureStream(jsm, { name: 'ORDERS', num_replicas: 1 })).rejects.toThrow(
      'stream ORDERS has 3 replicas; NATS_REPLICAS=1 would lower them',
    )
    expect(updates).toStrictEqual([])
  })

  it('updates it to the configuration when the replicas stay or rise', async () => {
    const { jsm, updates } = managerWith({ name: 'ORDERS', num_replicas: 1, max_age: 1 })
    await ensureStream(jsm, { name: 'ORDERS', num_replicas: 3, max_age: 2 })
    expect(updates).toStrictEqual([
      {
        name: 'ORDERS',
        num_replicas: 3,
        max_age: 2,
        max_msgs: -1,
        max_msgs_per_subject: -1,
        max_consumers: -1,
      },
    ])
  })

  it('puts back the limits it never sets (a stream changed by hand), and keeps those it sets', async () => {
    const { jsm, updates } = managerWith({
      name: 'ORDERS',
      num_replicas: 1,
      max_msgs: 10,
      max_msgs_per_subject: 2,
      max_consumers: 3,
      deny_delete: true,
    })
    await ensureStream(jsm, { name: 'ORDERS', num_replicas: 1, max_msgs_per_subject: 1 })
    expect(updates).toStrictEqual([
      {
        name: 'ORDERS',
        num_replicas: 1,
        max_msgs: -1,
        max_msgs_per_subject: 1,
        max_consumers: -1,
        deny_delete: true,
      },
    ])
  })
})
