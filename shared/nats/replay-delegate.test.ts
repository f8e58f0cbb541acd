import { describe, expect, it } from 'vitest'
import { STREAMS, SUBJECTS } from '../../schemas/subjects.ts'
import { GRANTS } from '../security/access.ts'
import { createInbox, type NatsConnection } from '@nats-io/nats-core'
import { answerInbox, REPLAY_OWNERSHIP, REPLAYERS, replayerOf } from './replay-delegate.ts'

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

describe('answerInbox', () => {
  it("gives a random token on the answer part, which tells nothing of the process's NUIDs", () => {
    const nc = { options: { inboxPrefix: '_INBOX_UCONSOLE' } } as unknown as NatsConnection
    const nuidOf = (inbox: string) => inbox.split('.').at(-1) ?? ''
    const before = nuidOf(createInbox())
    const answers = [answerInbox(nc), answerInbox(nc)]
    const after = nuidOf(createInbox())
    for (const answer of answers) {
      expect(answer).toMatch(/^_INBOX_UCONSOLE\.answers\.[0-9a-f]{32}$/)
      // A NUID is a fixed random prefix and a counter: none of it is in the token.
      expect(nuidOf(answer)).not.toContain(before.slice(0, 12))
    }
    expect(before.slice(0, 12)).toBe(after.slice(0, 12))
    expect(answers[0]).not.toBe(answers[1])
  })
})
