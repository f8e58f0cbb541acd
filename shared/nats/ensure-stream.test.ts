import { JetStreamApiError, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_LIMITS,
  ensureStream,
  LimitLoweredError,
  ReplicasLoweredError,
  shrinkPreflight,
} from './topology.ts'

interface FakeState {
  bytes: number
  messages: number
  first_ts: string
}
const EMPTY: FakeState = { bytes: 0, messages: 0, first_ts: '0001-01-01T00:00:00Z' }

/** Just the two calls ensureStream makes on an existing stream. */
function managerWith(existing: Partial<StreamConfig>, state: FakeState = EMPTY) {
  const updates: Partial<StreamConfig>[] = []
  const jsm = {
    streams: {
      info: () => Promise.resolve({ config: existing, state }),
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

  const MiB = 1024 * 1024
  const HOUR_NS = 3_600_000_000_000
  const held = (bytes: number, ageMs: number): FakeState => ({
    bytes,
    messages: 100,
    first_ts: new Date(Date.now() - ageMs).toISOString(),
  })

  it('refuses a size cap below what the stream holds, or a retention that would delete its oldest events', async () => {
    const { jsm, updates } = managerWith(
      { name: 'ORDERS', num_replicas: 1, max_bytes: 1024 * MiB, max_age: 168 * HOUR_NS },
      held(50 * MiB, 3 * 3_600_000),
    )
    await expect(
      ensureStream(
        jsm,
        { name: 'ORDERS', num_replicas: 1, max_bytes: MiB },
        { sizeSetting: 'STREAM_MAX_BYTES' },
      ),
    ).rejects.toThrow(
      `stream ORDERS holds ${50 * MiB} bytes; STREAM_MAX_BYTES=${MiB} is below that (its oldest events would be deleted): raise the setting, or set PROVISION_ALLOW_SHRINK=true`,
    )
    // A cap no setting controls (a stream whose size this release fixes) is named as such.
    await expect(ensureStream(jsm, { name: 'ORDERS', num_replicas: 1, max_bytes: MiB })).rejects.toThrow(
      `this release's cap of ${MiB} is below that`,
    )
    await expect(ensureStream(jsm, { name: 'ORDERS', num_replicas: 1, max_age: HOUR_NS })).rejects.toThrow(
      LimitLoweredError,
    )
    expect(updates).toStrictEqual([])
    // What would delete nothing goes through: a cap above what it holds, a retention longer than its oldest event's age.
    await ensureStream(jsm, { name: 'ORDERS', num_replicas: 1, max_bytes: 100 * MiB, max_age: 4 * HOUR_NS })
    // And so does a shrink the operator allows.
    await ensureStream(jsm, { name: 'ORDERS', num_replicas: 1, max_bytes: MiB }, { allowShrink: true })
    expect(updates.map((u) => u.max_bytes)).toStrictEqual([100 * MiB, MiB])
  })
})

describe('the provision step read before any update', () => {
  const notFound = () =>
    Promise.reject(new JetStreamApiError({ code: 404, err_code: 10059, description: 'stream not found' }))

  it('throws for lowered replicas before anything changes, and skips what does not exist yet', async () => {
    const jsm = {
      streams: {
        info: (name: string) =>
          name === 'ORDERS'
            ? Promise.resolve({ config: { name, num_replicas: 3 }, state: EMPTY })
            : name === 'KV_inventory-stock'
              ? Promise.resolve({ config: { name, num_replicas: 3, max_bytes: 1 }, state: EMPTY })
              : notFound(),
      },
    } as unknown as JetStreamManager
    const streams = [
      { config: { name: 'ORDERS', num_replicas: 1 } },
      { config: { name: 'DLQ', num_replicas: 1 } },
    ]
    await expect(shrinkPreflight(jsm, streams, DEFAULT_LIMITS)).rejects.toThrow(
      'stream ORDERS has 3 replicas; NATS_REPLICAS=1 would lower them; bucket inventory-stock has 3 replicas; NATS_REPLICAS=1 would lower them',
    )
    await expect(shrinkPreflight(jsm, streams, { ...DEFAULT_LIMITS, replicas: 3 })).rejects.toThrow(
      ReplicasLoweredError,
    )
    const raised = [{ config: { name: 'ORDERS', num_replicas: 3 } }]
    expect(await shrinkPreflight(jsm, raised, { ...DEFAULT_LIMITS, replicas: 3 })).toStrictEqual([])
  })
})
