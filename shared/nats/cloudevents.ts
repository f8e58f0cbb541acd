/*
 * CloudEvents 1.0 attributes on every event, in the binary content mode of
 * the CloudEvents NATS protocol binding (github.com/cloudevents/spec, main,
 * cloudevents/bindings/nats-protocol-binding.md, §3.1): the event's JSON is
 * the message payload and each attribute travels in its own NATS header named
 * `ce-<attribute>` (§3.1.3.1), its value percent-encoded (§3.1.3.2). Any
 * CloudEvents reader can then take events off the ORDERS stream.
 */
import type { MsgHdrs } from '@nats-io/nats-core'
import { setHeader } from './set-header.ts'

export const CLOUDEVENTS_SPEC_VERSION = '1.0'

/** NATS header of each attribute (§3.1.3.1: the attribute's name prefixed with `ce-`). */
export const CE_HEADERS = {
  specversion: 'ce-specversion',
  id: 'ce-id',
  source: 'ce-source',
  type: 'ce-type',
  time: 'ce-time',
  subject: 'ce-subject',
  datacontenttype: 'ce-datacontenttype',
} as const

/**
 * Also set to the data content type: the binding reads a `content-type` of
 * `application/cloudevents...` as structured mode, anything else as binary,
 * and CloudEvents' Go SDK maps this header to `datacontenttype` as well.
 */
export const CONTENT_TYPE_HEADER = 'content-type'

export const EVENT_CONTENT_TYPE = 'application/json'

/**
 * Reverse-DNS prefix of every event type (spec.md: `type` SHOULD be prefixed
 * with a reverse-DNS name). `example.com` stands for the owner's domain:
 * changing it later changes every type, so it is a new version of every event.
 */
export const EVENT_TYPE_PREFIX = 'com.example.order-saga'

/** Every event's `source` is `/order-saga/<service>`, the service that produced it. */
export const EVENT_SOURCE_ROOT = '/order-saga'

/** The producing services (the names `startNatsRuntime` connects with). */
export const EVENT_SOURCES = {
  order: `${EVENT_SOURCE_ROOT}/order`,
  inventory: `${EVENT_SOURCE_ROOT}/inventory`,
  payment: `${EVENT_SOURCE_ROOT}/payment`,
} as const

/** `/order-saga/<service>` for a service name of a-z, 0-9 and `-`. */
export function toEventSource(service: string): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(service)) throw new TypeError(`not a service name: ${service}`)
  return `${EVENT_SOURCE_ROOT}/${service}`
}

/** `com.example.order-saga.<subject>.v<version>`, e.g. `com.example.order-saga.orders.created.v1`. */
export function toEventType(subject: string, version: number): string {
  if (!Number.isInteger(version) || version < 1) throw new TypeError(`not an event version: ${version}`)
  return `${EVENT_TYPE_PREFIX}.${subject}.v${version}`
}

export interface CloudEventAttributes {
  /** Unique per event within its source; a retried publish keeps it (the JetStream message id). */
  id: string
  source: string
  type: string
  /** RFC 3339, UTC. */
  time: string
  /** The order the event is about. */
  subject?: string
}

/** What the attributes are built from: the event's payload fields and its message id. */
export interface EventIdentity {
  natsSubject: string
  msgId: string
  source: string
  payload: { version: number; occurredAt: string; orderId?: string }
}

/** The attributes of one event: `time` is its `occurredAt` (as RFC 3339 UTC), `subject` its order id. */
export function toCloudEventAttributes({
  natsSubject,
  msgId,
  source,
  payload,
}: EventIdentity): CloudEventAttributes {
  const at = new Date(payload.occurredAt)
  if (Number.isNaN(at.getTime())) throw new TypeError(`occurredAt is not a time: ${payload.occurredAt}`)
  if (msgId === '') throw new TypeError('an event needs a message id')
  return {
    id: msgId,
    source,
    type: toEventType(natsSubject, payload.version),
    time: at.toISOString(),
    ...(payload.orderId === undefined ? {} : { subject: payload.orderId }),
  }
}

/** Sets the binary-mode headers of `attributes` on `h` (existing headers are kept). */
export function setCloudEventHeaders(h: MsgHdrs, attributes: CloudEventAttributes): void {
  setHeader(h, CE_HEADERS.specversion, CLOUDEVENTS_SPEC_VERSION)
  setHeader(h, CE_HEADERS.id, encodeHeaderValue(attributes.id))
  setHeader(h, CE_HEADERS.source, encodeHeaderValue(attributes.source))
  setHeader(h, CE_HEADERS.type, encodeHeaderValue(attributes.type))
  setHeader(h, CE_HEADERS.time, attributes.time)
  if (attributes.subject !== undefined)
    setHeader(h, CE_HEADERS.subject, encodeHeaderValue(attributes.subject))
  setHeader(h, CE_HEADERS.datacontenttype, EVENT_CONTENT_TYPE)
  setHeader(h, CONTENT_TYPE_HEADER, EVENT_CONTENT_TYPE)
}

const encoder = new TextEncoder()
/** U+0021-U+007E but `"` (U+0022) and `%` (U+0025). */
const NOTHING_TO_ENCODE = /^[!#$&-~]*$/

/**
 * §3.1.3.2: space, `"`, `%` and every character outside U+0021-U+007E are
 * percent-encoded as their UTF-8 bytes, upper-case hex.
 */
export function encodeHeaderValue(value: string): string {
  // Ids, sources, types and order ids need no encoding: skip the per-character loop.
  if (NOTHING_TO_ENCODE.test(value)) return value
  let out = ''
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0
    if (code >= 0x21 && code <= 0x7e && char !== '"' && char !== '%') out += char
    else
      for (const byte of encoder.encode(char)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}
