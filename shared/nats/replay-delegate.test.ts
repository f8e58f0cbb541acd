import { describe, expect, it } from 'vitest'
import { STREAMS, SUBJECTS } from '../../schemas/subjects.ts'
import { GRANTS } from '../security/access.ts'
import { REPLAY_OWNERSHIP, REPLAYERS, replayerOf } from './replay-delegate.ts'

describe('who replays a dead letter', () => {
  it.each(REPLAYERS)('%s replays exactly the events its identity publishes', (replayer) => {
    const events = new Set<string>(Object.values(SUBJECTS))
    const granted = GRANTS[replayer].publishes.filter((s: string) => events.has(s))
    expect([...REPLAY_OWNERSHIP[replayer]].sort()).toStrictEqual([...granted].sort())
  })

  it.each([
    [SUBJECTS.orderCreated, STREAMS.orders.name, 'order'],
    [`${SUBJECTS.orderCreated}.express`, STREAMS.orders.name, 'order'],
    [SUBJECTS.orderCancelRequested, STREAMS.orders.name, 'order'],
    [SUBJECTS.inventoryReserved, STREAMS.orders.name, 'inventory'],
    [SUBJECTS.orderCancelled, STREAMS.orders.name, 'inventory'],
    [`${SUBJECTS.paymentCompleted}.express`, STREAMS.orders.name, 'payment'],
    ['deadlines.fired.orders.cancel_requested', STREAMS.deadlines.name, 'inventory'],
    ['something.else', STREAMS.orders.name, null],
    [null, STREAMS.orders.name, null],
  ])('%s from %s: %s', (subject, stream, replayer) => {
    expect(replayerOf({ subject, stream })).toBe(replayer)
  })
})
