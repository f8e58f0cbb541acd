import { headers, MsgHdrsImpl } from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import { setHeader } from './set-header.ts'

const EVENT_HEADERS: [string, string][] = [
  ['X-Correlation-ID', 'corr-1'],
  ['Event-Version', '1'],
  ['ce-specversion', '1.0'],
  ['ce-id', 'orders.created:0192f1a2-7c1e-7b2a-9f00-abcdef012345'],
  ['ce-type', 'order-saga.orders.created.v1'],
  ['ce-time', '2026-12-04T13:00:00.000Z'],
  ['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
  ['content-type', 'application/json'],
]

describe('setHeader', () => {
  it('writes the same header block as nats.js set, replacing a value set before', () => {
    const slow = new MsgHdrsImpl()
    const fast = new MsgHdrsImpl()
    for (const [name, value] of EVENT_HEADERS) {
      slow.set(name, value)
      setHeader(fast, name, value)
    }
    slow.set('Event-Version', ' 2 ')
    setHeader(fast, 'Event-Version', ' 2 ')
    expect(new TextDecoder().decode(fast.encode())).toBe(new TextDecoder().decode(slow.encode()))
    expect(fast.get('Event-Version')).toBe('2')
    expect(MsgHdrsImpl.decode(fast.encode()).get('traceparent')).toBe(EVENT_HEADERS[6]?.[1])
  })

  it('refuses what nats.js refuses: CR or LF in a value, a colon or a space in a name', () => {
    const h = headers()
    expect(() => setHeader(h, 'X-Bad', 'a\r\nInjected: yes')).toThrow(/\\r or \\n/)
    expect(() => setHeader(h, 'X-Bad', 'a\nb')).toThrow(/\\r or \\n/)
    expect(() => setHeader(h, 'X:Bad', 'a')).toThrow(/not a valid character/)
    expect(() => setHeader(h, 'X Bad', 'a')).toThrow(/not a valid character/)
    expect(h.keys()).toStrictEqual([])
  })
})
