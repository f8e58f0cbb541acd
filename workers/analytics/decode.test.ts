import { headers } from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import { DIRECT_GET_HEADERS } from '../../shared/nats/not-published.ts'
import { decodeStored } from './decode.ts'

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value))
const created = {
  version: 2,
  orderId: '0190f0f0-0000-7000-8000-00000000000a',
  occurredAt: '2026-01-01T10:00:00.000Z',
  customer: { id: 'c' },
  items: [{ sku: 'MUG', quantity: 1 }],
  sealedPaymentToken: 'sealed.v1.x',
}
/** A published event's headers (correlation id and version) with `entries` over them. */
const withHeaders = (
  entries: Record<string, string>,
  base: Record<string, string> = { 'X-Correlation-ID': 'corr', 'Event-Version': '2' },
) => {
  const h = headers()
  for (const [k, v] of Object.entries({ ...base, ...entries })) h.set(k, v)
  return h
}

describe('decodeStored (the replay reads what the live consumer reads)', () => {
  it('reads an event of either lane', () => {
    for (const subject of ['orders.created', 'orders.created.express']) {
      const decoded = decodeStored({
        subject,
        header: withHeaders({ 'Event-Version': '2' }),
        data: encode(created),
      })
      expect(decoded).toMatchObject({
        ok: true,
        subject: 'orders.created',
        event: { orderId: created.orderId },
      })
    }
  })

  it.each([
    [
      'a schedule holder',
      'orders.deadlines.x',
      { 'Nats-Schedule': '@at 2026-01-01T00:00:00Z' },
      created,
      'schedule',
    ],
    ['a subject analytics does not read', 'inventory.reserved', {}, created, 'not read'],
    ['a version it does not read', 'orders.created', { 'Event-Version': '9' }, created, 'version not read'],
    [
      'a v1 copy whose v2 twin is read',
      'orders.created',
      { 'Event-Version': '1', 'Event-Twin-Version': '2' },
      created,
      'twin read instead',
    ],
    ['bad JSON', 'orders.created', {}, undefined, 'malformed json'],
    [
      'an event typed as another',
      'orders.created',
      { 'ce-type': 'com.example.order-saga.orders.cancel_requested.v1' },
      created,
      'published as another event',
    ],
    ['a schema violation', 'orders.created', {}, { ...created, items: [] }, 'schema violation'],
    // The loop dead-letters these (`unexpected_origin`): a dead letter's
    // headers or a sourced copy's on an event subject.
    [
      'a dead letter stored on an event subject',
      'orders.created',
      { 'Dlq-Reason': 'x' },
      created,
      'a stored copy',
    ],
    ['a sourced copy', 'orders.created', { 'Nats-Stream-Source': 'X 1' }, created, 'a stored copy'],
    // An occurredAt valibot's isoTimestamp takes and Date.parse cannot read:
    // counted, it would throw in the window's key (a poison message) and
    // break every later replay over it.
    [
      'a time no runtime reads',
      'orders.created',
      {},
      { ...created, occurredAt: '2026-12-05T00:20:00+01' },
      'schema violation',
    ],
  ])('skips %s', (_name, subject, entries, payload, skipped) => {
    const data = payload === undefined ? new TextEncoder().encode('{') : encode(payload)
    expect(decodeStored({ subject, header: withHeaders(entries), data })).toStrictEqual({
      ok: false,
      skipped,
    })
  })

  it.each(DIRECT_GET_HEADERS)(
    'skips an event stored with its own %s (a batch direct get answers it twice, as nats-server 2.15.1 does)',
    (name) => {
      // The stored value first, then the server's own, as the answer carries them.
      const header = withHeaders({ [name]: 'stored' })
      header.append(name, 'from the server')
      expect(decodeStored({ subject: 'orders.created', header, data: encode(created) })).toStrictEqual({
        ok: false,
        skipped: 'a stored copy',
      })
    },
  )

  it('reads an event with the headers a direct get adds to every answer', () => {
    const header = withHeaders({
      'Nats-Stream': 'ORDERS',
      'Nats-Sequence': '7',
      'Nats-Subject': 'orders.created',
    })
    expect(decodeStored({ subject: 'orders.created', header, data: encode(created) })).toMatchObject({
      ok: true,
    })
  })

  it('skips an event without the correlation id or the version every publisher sets', () => {
    for (const base of [{ 'Event-Version': '2' }, { 'X-Correlation-ID': 'corr' }]) {
      const header = withHeaders({}, base)
      expect(decodeStored({ subject: 'orders.created', header, data: encode(created) })).toStrictEqual({
        ok: false,
        skipped: 'not a published event',
      })
    }
  })
})
