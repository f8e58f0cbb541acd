import { identityKey } from './identity-key.ts'
import { describe, expect, it } from 'vitest'
import { DEAD_LETTER_HEADERS } from '../../schemas/subjects.ts'
import {
  advisoryReason,
  advisorySubjects,
  parseAdvisory,
  toDeadLetterCopy,
  deadLetterMsgId,
  type DeliveryAdvisory,
} from './dead-letter-advisory.ts'

const encode = (value: unknown) =>
  new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value))

// Verbatim from nats-server 2.10.27.
const maxDeliver = {
  type: 'io.nats.jetstream.advisory.v1.max_deliver',
  id: '3CRpxH9p4KSBQOA9eloj2L',
  timestamp: '2026-11-25T16:34:28.968245314Z',
  stream: 'ORDERS',
  consumer: 'w',
  stream_seq: 1,
  deliveries: 2,
}
const terminated = {
  type: 'io.nats.jetstream.advisory.v1.terminated',
  id: 'RraBkonLHhvGBXa2lkM8T5',
  timestamp: '2026-11-25T16:34:10.510056418Z',
  stream: 'ORDERS',
  consumer: 'w',
  consumer_seq: 3,
  stream_seq: 2,
  deliveries: 1,
  reason: 'malformed_json',
}

describe('parseAdvisory', () => {
  it.each([
    [
      'max_deliver',
      maxDeliver,
      {
        ok: true,
        advisory: {
          type: maxDeliver.type,
          id: maxDeliver.id,
          stream: 'ORDERS',
          consumer: 'w',
          stream_seq: 1,
          deliveries: 2,
        },
      },
    ],
    [
      'terminated with reason',
      terminated,
      {
        ok: true,
        advisory: expect.objectContaining({ type: terminated.type, stream_seq: 2, reason: 'malformed_json' }),
      },
    ],
    ['not JSON', '{"type"', { ok: false, detail: expect.stringMatching(/^not JSON/) }],
    [
      'another advisory',
      { ...maxDeliver, type: 'io.nats.jetstream.advisory.v1.nak' },
      { ok: false, detail: expect.stringContaining('type') },
    ],
    [
      'no stream_seq',
      { ...maxDeliver, stream_seq: undefined },
      { ok: false, detail: expect.stringContaining('stream_seq') },
    ],
    [
      'stream_seq 0',
      { ...maxDeliver, stream_seq: 0 },
      { ok: false, detail: expect.stringContaining('stream_seq') },
    ],
  ])('%s', (_name, input, expected) => {
    expect(parseAdvisory(encode(input))).toStrictEqual(expected)
  })
})

describe('advisoryReason', () => {
  const base = { id: 'x', stream: 'ORDERS', consumer: 'w', stream_seq: 7, deliveries: 5 }
  const md: DeliveryAdvisory = { ...base, type: 'io.nats.jetstream.advisory.v1.max_deliver' }
  const term: DeliveryAdvisory = { ...base, type: 'io.nats.jetstream.advisory.v1.terminated' }
  it.each([
    ['max deliveries', md, true, 'max_deliver_exhausted: not acknowledged after delivery 5'],
    [
      'max deliveries, original gone',
      md,
      false,
      'max_deliver_exhausted: original message no longer in stream',
    ],
    ['term with a reason', { ...term, reason: 'fraud' }, true, 'terminated: fraud'],
    ['term without a reason', term, true, 'terminated'],
    ['term, original gone', term, false, 'terminated: original message no longer in stream'],
  ])('%s', (_name, advisory, found, expected) => {
    expect(advisoryReason(advisory, found)).toBe(expected)
  })
})

describe('toDeadLetterCopy', () => {
  it('keeps a bodiless record under the loop msg id when the original is gone', () => {
    const parsed = parseAdvisory(encode(maxDeliver))
    if (!parsed.ok) throw new Error(parsed.detail)
    const copy = toDeadLetterCopy(parsed.advisory, null, new Date('2026-01-02T03:04:05Z'))
    expect(copy.subject).toBe('dlq._missing.ORDERS')
    expect(copy.msgId).toBe('dlq:ORDERS:1:w')
    expect(copy.data).toHaveLength(0)
    expect(Object.fromEntries([...copy.headers].map(([k, v]) => [k, v.join(',')]))).toStrictEqual({
      [DEAD_LETTER_HEADERS.reason]: 'max_deliver_exhausted: original message no longer in stream',
      [DEAD_LETTER_HEADERS.stream]: 'ORDERS',
      [DEAD_LETTER_HEADERS.sequence]: '1',
      [DEAD_LETTER_HEADERS.deliveries]: '2',
      [DEAD_LETTER_HEADERS.consumer]: 'w',
      [DEAD_LETTER_HEADERS.time]: '2026-01-02T03:04:05.000Z',
    })
  })

  it('filters one consumer with both advisory subjects', () => {
    expect(advisorySubjects('ORDERS', 'inventory')).toStrictEqual([
      '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ORDERS.inventory',
      '$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ORDERS.inventory',
    ])
  })
})

describe('deadLetterMsgId', () => {
  it('ends in a MAC only the identity can make, the same for the loop and the capture of one identity', () => {
    const key = identityKey('SUAEXAMPLESEEDONE')
    const other = identityKey('SUAEXAMPLESEEDTWO')
    const id = deadLetterMsgId('ORDERS', 7, 'payment', key)
    expect(id).toMatch(/^dlq:ORDERS:7:payment:[0-9a-f]{24}$/)
    expect(deadLetterMsgId('ORDERS', 7, 'payment', identityKey('SUAEXAMPLESEEDONE'))).toBe(id)
    expect(deadLetterMsgId('ORDERS', 7, 'payment', other)).not.toBe(id)
    expect(deadLetterMsgId('ORDERS', 8, 'payment', key)).not.toBe(id)
    expect(deadLetterMsgId('ORDERS', 7, 'payment')).toBe('dlq:ORDERS:7:payment')
    expect(identityKey(undefined)).toBeUndefined()
  })
})
