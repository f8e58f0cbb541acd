/*
 * A stored message of ORDERS as the replay reads it (direct get, no
 * consumer): the same decisions the consumer loop (shared/nats/consumer.ts)
 * takes for the analytics consumer, so a replay counts exactly what the live
 * consumer counted. Skipped: schedule holders, subjects analytics does not
 * read, versions this code does not read, a copy whose twin in another
 * version is read instead, and what the live consumer dead-letters: poison
 * (bad JSON, schema violations), an event without X-Correlation-ID and
 * Event-Version, one whose ce-type names another event, a stored copy (a
 * dead letter's or a sourced copy's headers).
 */
import type { MsgHdrs } from '@nats-io/nats-core'
import * as v from 'valibot'
import { EVENT_SCHEMAS, EVENT_VERSIONS, type EventOf } from '../../schemas/events.ts'
import { HEADERS, splitLane } from '../../schemas/subjects.ts'
import { CE_HEADERS, toEventType } from '../../shared/nats/cloudevents.ts'
import { DIRECT_GET_HEADERS, STORED_COPY_HEADERS } from '../../shared/nats/not-published.ts'
import { SCHEDULE_HEADERS } from '../../shared/nats/schedule.ts'
import { ANALYTICS_SUBJECTS, type AnalyticsSubject } from './domain.ts'

export type Decoded =
  { ok: true; subject: AnalyticsSubject; event: EventOf<AnalyticsSubject> } | { ok: false; skipped: string }

const READ: readonly string[] = ANALYTICS_SUBJECTS

export function decodeStored(message: { subject: string; header?: MsgHdrs; data: Uint8Array }): Decoded {
  const { header } = message
  if (header?.has(SCHEDULE_HEADERS.schedule) === true) return { ok: false, skipped: 'schedule' }
  // An express order's event is read like any other of its subject.
  const subject = splitLane(message.subject).subject as AnalyticsSubject
  if (!READ.includes(subject)) return { ok: false, skipped: 'not read' }
  // What the consumer loop refuses (shared/nats/consumer.ts): an event
  // without the headers every publisher sets, or typed as another event.
  const given = header?.get(HEADERS.eventVersion) ?? ''
  if (header === undefined || given === '' || !header.has(HEADERS.correlationId))
    return { ok: false, skipped: 'not a published event' }
  // A sourced copy or a dead letter's headers on an event subject, or a
  // direct get's stored with the message (the get's answer then carries it
  // twice): the loop dead-letters it (`unexpected_origin`).
  if (
    STORED_COPY_HEADERS.some((name) => header.has(name)) ||
    DIRECT_GET_HEADERS.some((name) => header.values(name).length > 1)
  )
    return { ok: false, skipped: 'a stored copy' }
  const version = Number(given)
  if (Number.isInteger(version) && !EVENT_VERSIONS[subject].includes(version))
    return { ok: false, skipped: 'version not read' }
  const twin = Number(header.get(HEADERS.twinVersion) || Number.NaN)
  if (Number.isInteger(twin) && twin !== version && EVENT_VERSIONS[subject].includes(twin))
    return { ok: false, skipped: 'twin read instead' }
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder().decode(message.data))
  } catch {
    return { ok: false, skipped: 'malformed json' }
  }
  const parsed = v.safeParse(EVENT_SCHEMAS[subject], raw)
  if (!parsed.success) return { ok: false, skipped: 'schema violation' }
  const type = header.get(CE_HEADERS.type)
  if (type !== '' && type !== toEventType(subject, parsed.output.version))
    return { ok: false, skipped: 'published as another event' }
  return { ok: true, subject, event: parsed.output }
}
