// A CloudEvents reader for NATS messages written from the spec alone, apart
// from the code that writes the headers (shared/nats/cloudevents.ts): the
// binary content mode of the NATS protocol binding (cloudevents/spec, main,
// cloudevents/bindings/nats-protocol-binding.md §3) and the attribute rules of
// spec.md. The attributes it finds are handed to the cloudevents SDK, whose
// strict mode validates them again against the spec's JSON Schema.
import type { MsgHdrs } from '@nats-io/nats-core'
import { CloudEvent } from 'cloudevents'

export interface ReadResult {
  /** The event as the SDK built it, when every rule held. */
  event?: CloudEvent<unknown>
  /** Every rule that failed, as `<attribute>: <problem>`. */
  problems: string[]
}

const PREFIX = 'ce-'
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** §3.1.3.2: double-quoted strings unescaped, then one round of strict percent-decoding. */
export function decodeHeaderValue(raw: string): string {
  let value = raw.trim()
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    value = value.slice(1, -1).replace(/\\(.)/g, '$1')
  }
  const bytes: number[] = []
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (value[i] === '%') {
      const hex = value.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Error(`bad percent escape at ${i}`)
      bytes.push(Number.parseInt(hex, 16))
      i += 2
    } else if (c < 0x80) {
      bytes.push(c)
    } else {
      throw new Error(`unencoded non-ASCII character at ${i}`)
    }
  }
  // Overlong or otherwise invalid UTF-8 (such as %C0%A0) must be rejected.
  return utf8.decode(new Uint8Array(bytes))
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/
// RFC 3986 URI-reference: a scheme-qualified URI or a relative reference, no spaces or controls.
const URI_REFERENCE = /^([A-Za-z][A-Za-z0-9+.-]*:)?[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/
// RFC 2046 media type with optional parameters.
const MEDIA_TYPE =
  /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=("[^"]*"|[^;\s]+))*$/
// CloudEvents String: no controls (U+0000-U+001F, U+007F-U+009F).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/** The attributes of a binary-mode CloudEvent on a NATS message, checked against spec.md. */
export function readNatsCloudEvent(headers: MsgHdrs | undefined, body: Uint8Array): ReadResult {
  const problems: string[] = []
  if (headers === undefined) return { problems: ['(message): no headers, so not binary mode'] }
  const contentType = headerValue(headers, 'content-type')
  if (contentType?.toLowerCase().startsWith('application/cloudevents') === true) {
    problems.push('(message): content-type application/cloudevents is structured mode')
  }
  const attributes: Record<string, string> = {}
  for (const key of headers.keys()) {
    if (!key.toLowerCase().startsWith(PREFIX)) continue
    const name = key.slice(PREFIX.length).toLowerCase()
    if (name in attributes) problems.push(`${name}: more than one header`)
    try {
      attributes[name] = decodeHeaderValue(headers.get(key))
    } catch (error) {
      problems.push(`${name}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  for (const required of ['id', 'source', 'specversion', 'type']) {
    if (!attributes[required]) problems.push(`${required}: missing or empty`)
  }
  if (attributes['specversion'] !== undefined && attributes['specversion'] !== '1.0') {
    problems.push(`specversion: ${attributes['specversion']} is not 1.0`)
  }
  const { source, time, datacontenttype, subject } = attributes
  if (source !== undefined && !URI_REFERENCE.test(source)) problems.push(`source: not a URI-reference`)
  if (time !== undefined && !(RFC3339.test(time) && !Number.isNaN(Date.parse(time)))) {
    problems.push(`time: ${time} is not an RFC 3339 timestamp`)
  }
  if (datacontenttype !== undefined && !MEDIA_TYPE.test(datacontenttype)) {
    problems.push(`datacontenttype: ${datacontenttype} is not an RFC 2046 media type`)
  }
  if (subject === '') problems.push('subject: empty')
  for (const [name, value] of Object.entries(attributes)) {
    if (CONTROL.test(value)) problems.push(`${name}: control character`)
    if (!/^[a-z0-9]{1,20}$/.test(name)) problems.push(`${name}: not a valid attribute name`)
  }
  let data: unknown
  try {
    data = JSON.parse(new TextDecoder().decode(body))
  } catch {
    problems.push('data: not JSON although datacontenttype says so')
  }
  if (problems.length > 0) return { problems }
  try {
    return { event: new CloudEvent({ ...attributes, data }, true), problems }
  } catch (error) {
    return { problems: [`(sdk): ${error instanceof Error ? error.message : String(error)}`] }
  }
}

function headerValue(headers: MsgHdrs, name: string): string | undefined {
  const key = headers.keys().find((k) => k.toLowerCase() === name)
  return key === undefined ? undefined : headers.get(key)
}
