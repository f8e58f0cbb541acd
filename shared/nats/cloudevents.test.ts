import { headers as createHeaders } from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import { decodeHeaderValue, readNatsCloudEvent } from '../../test/support/cloudevents-reader.ts'
import {
  CE_HEADERS,
  encodeHeaderValue,
  setCloudEventHeaders,
  toCloudEventAttributes,
  toEventSource,
  toEventType,
} from './cloudevents.ts'

const ORDER_ID = '6e8bc430-9c3a-41d9-9669-0800200c9a66'
const body = new TextEncoder().encode(JSON.stringify({ version: 1, orderId: ORDER_ID }))

describe('CloudEvents header values', () => {
  it.each([
    ['orders.created:6e8bc430', 'orders.created:6e8bc430'],
    // The binding's own example (§3.1.3.2).
    ['Euro \u20ac \u{1f600}', 'Euro%20%E2%82%AC%20%F0%9F%98%80'],
    ['say "hi" 100%', 'say%20%22hi%22%20100%25'],
    ['tab\there', 'tab%09here'],
  ])('percent-encodes %j as %j, and an independent decoder gets it back', (value, encoded) => {
    expect(encodeHeaderValue(value)).toBe(encoded)
    expect(decodeHeaderValue(encoded)).toBe(value)
  })
})

describe('CloudEvents attributes', () => {
  it('names types by reverse-DNS prefix, subject and version, and sources by service', () => {
    expect(toEventType('orders.created', 1)).toBe('com.example.order-saga.orders.created.v1')
    expect(toEventType('payments.refunded', 2)).toBe('com.example.order-saga.payments.refunded.v2')
    expect(toEventSource('inventory')).toBe('/order-saga/inventory')
    expect(() => toEventType('orders.created', 0)).toThrow(TypeError)
    expect(() => toEventSource('Not A Name')).toThrow(TypeError)
  })

  it('takes id from the message id, time from occurredAt (RFC 3339 UTC) and subject from the order id', () => {
    const attributes = toCloudEventAttributes({
      natsSubject: 'orders.cancelled',
      msgId: `orders.cancelled:${ORDER_ID}`,
      source: '/order-saga/payment',
      payload: { version: 1, orderId: ORDER_ID, occurredAt: '2026-12-01T10:00:00.5+01:00' },
    })
    expect(attributes).toStrictEqual({
      id: `orders.cancelled:${ORDER_ID}`,
      source: '/order-saga/payment',
      type: 'com.example.order-saga.orders.cancelled.v1',
      time: '2026-12-01T09:00:00.500Z',
      subject: ORDER_ID,
    })
    const bad = { natsSubject: 'orders.cancelled', msgId: 'x', source: '/s' }
    expect(() => toCloudEventAttributes({ ...bad, payload: { version: 1, occurredAt: 'soon' } })).toThrow(
      TypeError,
    )
  })

  it('writes binary-mode headers that a reader built from the spec and the SDK accept', () => {
    const h = createHeaders()
    h.set('X-Correlation-ID', 'corr-1')
    setCloudEventHeaders(h, {
      id: 'id with space',
      source: '/order-saga/order',
      type: 'com.example.order-saga.orders.created.v1',
      time: '2026-12-01T09:00:00.000Z',
      subject: ORDER_ID,
    })
    expect(h.get(CE_HEADERS.id)).toBe('id%20with%20space')
    const read = readNatsCloudEvent(h, body)
    expect(read.problems).toStrictEqual([])
    expect(JSON.parse(String(read.event))).toStrictEqual({
      specversion: '1.0',
      id: 'id with space',
      source: '/order-saga/order',
      type: 'com.example.order-saga.orders.created.v1',
      time: '2026-12-01T09:00:00.000Z',
      subject: ORDER_ID,
      datacontenttype: 'application/json',
      data: { version: 1, orderId: ORDER_ID },
    })
  })

  it.each([
    ['no id', { 'ce-id': undefined }, 'id: missing or empty'],
    ['another spec version', { 'ce-specversion': '0.3' }, 'specversion: 0.3 is not 1.0'],
    [
      'a time that is not RFC 3339',
      { 'ce-time': 'yesterday' },
      'time: yesterday is not an RFC 3339 timestamp',
    ],
    ['a source with a space', { 'ce-source': 'not%20a%20uri' }, 'source: not a URI-reference'],
    [
      'overlong UTF-8',
      { 'ce-subject': '%C0%A0' },
      'subject: The encoded data was not valid for encoding utf-8',
    ],
    ['structured mode', { 'content-type': 'application/cloudevents+json' }, 'structured mode'],
  ])('the reader refuses %s', (_, change, problem) => {
    const h = createHeaders()
    const valid: Record<string, string | undefined> = {
      'ce-specversion': '1.0',
      'ce-id': 'a',
      'ce-source': '/order-saga/order',
      'ce-type': 't.v1',
      'ce-time': '2026-12-01T09:00:00Z',
      'ce-datacontenttype': 'application/json',
      ...change,
    }
    for (const [k, v] of Object.entries(valid)) if (v !== undefined) h.set(k, v)
    const read = readNatsCloudEvent(h, body)
    expect(read.event).toBeUndefined()
    expect(read.problems.join('; ')).toContain(problem)
  })
})
