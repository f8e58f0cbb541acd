import type { JetStreamClient, PubAck } from '@nats-io/jetstream'
import { headers as createHeaders, type MsgHdrs } from '@nats-io/nats-core'
import { HEADERS, laneSubject, splitLane, type Priority, type Subject } from '../../schemas/subjects.ts'
import type { EventOf } from '../../schemas/events.ts'
import { writeTraceHeaders, type TraceContext } from '../observability/trace-context.ts'
import { EVENT_SOURCE_ROOT, setCloudEventHeaders, toCloudEventAttributes } from './cloudevents.ts'
import { sendAtEndOfTurn } from './end-of-turn.ts'
import { setHeader } from './set-header.ts'
import { macOf } from './identity-key.ts'
import { laneYield } from './lane-yield.ts'

/** An event a handler wants published; the runner adds the correlation id. */
export interface OutgoingEvent<S extends Subject = Subject> {
  subject: S
  payload: EventOf<S>
  /** JetStream de-duplication id; deterministic, so a retried handler publishes once. */
  msgId: string
}

/** Builds an {@link OutgoingEvent} with the conventional id `<subject>:<orderId>`. */
export function toEvent<S extends Subject>(subject: S, payload: EventOf<S>): OutgoingEvent<S> {
  return { subject, payload, msgId: `${subject}:${payload.orderId}` }
}

export class PublishError extends Error {
  override readonly name = 'PublishError'
}

const encoder = new TextEncoder()

export interface PublishOptions {
  correlationId: string
  timeoutMs: number
  /**
   * The CloudEvents `source`: the producing service, `toEventSource(name)`
   * (`/order-saga/<service>`). Default `/order-saga`, the system as a whole.
   */
  source?: string
  /** The order's priority lane: an express order's events go on `<subject>.express`. */
  priority?: Priority
  /**
   * The span the event comes from (W3C `traceparent`, and `tracestate` when
   * set): its consumers' spans are its children.
   */
  trace?: TraceContext | undefined
  /**
   * What a duplicate ack means. `verify` (the default): message ids such as
   * `<subject>:<orderId>` can be guessed, and the duplicate window covers
   * the whole stream while permissions look only at subjects, so another
   * identity could have published a message of its own under this event's
   * id first (the event would then be silently dropped). The stored message
   * is read back; unless it is this event (same subject and order), the event
   * is published again under a fresh id and `onIdTaken` is told. `trust`: the
   * id cannot be known before this publish (a new order's id).
   */
  duplicates?: 'verify' | 'trust'
  onIdTaken?: (taken: IdTaken) => void
  /**
   * The identity's own secret (`NatsRuntime.idKey`): the fresh id is
   * `<id>~<MAC of id>`, the same on every retry (so a retry is still stored
   * once) and unknown to other identities. Without it, a random one.
   */
  idKey?: Uint8Array | undefined
}

/** The log message for {@link IdTaken}: an event's id was held by a message that is not that event. */
export const ID_TAKEN =
  'event id held by another message (forged, or a foreign publisher); stored under a fresh id'

/** Another message held an event's id: what was found, and where the event went instead. */
export interface IdTaken {
  msgId: string
  stream: string
  seq: number
  /** The subject of the message stored under the id; null when it could not be read. */
  storedSubject: string | null
  /** The fresh id the event was stored under. */
  storedAs: string
}

/**
 * The headers every event carries: correlation id, `Event-Version`, the
 * CloudEvents attributes (shared/nats/cloudevents.ts) with the message id as
 * `id`, so a retry is the same CloudEvent too, and the trace context
 * (`traceparent`, `tracestate`) when given. Every publisher of events builds
 * its headers here (publishEvent, batches).
 */
export function toEventHeaders(
  event: OutgoingEvent,
  {
    correlationId,
    source = EVENT_SOURCE_ROOT,
    trace,
  }: Pick<PublishOptions, 'correlationId' | 'source' | 'trace'>,
): MsgHdrs {
  const h = createHeaders()
  setHeader(h, HEADERS.correlationId, correlationId)
  setHeader(h, HEADERS.eventVersion, String(event.payload.version))
  const { subject: natsSubject, msgId, payload } = event
  setCloudEventHeaders(h, toCloudEventAttributes({ natsSubject, msgId, source, payload }))
  if (trace !== undefined) writeTraceHeaders(trace, (name, value) => setHeader(h, name, value))
  return h
}

/**
 * Publishes one event and waits for JetStream's ack. The `Nats-Msg-Id` header
 * makes a retried publish (same id) a no-op inside the duplicate window.
 */
export async function publishEvent(
  js: JetStreamClient,
  event: OutgoingEvent,
  {
    correlationId,
    timeoutMs,
    source,
    priority = 'standard',
    trace,
    duplicates = 'verify',
    onIdTaken,
    idKey,
  }: PublishOptions,
): Promise<PubAck> {
  const held = laneYield()
  if (held !== undefined) await held
  const h = toEventHeaders(event, { correlationId, trace, ...(source === undefined ? {} : { source }) })
  const data = encoder.encode(JSON.stringify(event.payload))
  const subject = laneSubject(event.subject, priority)
  const options = {
    msgID: event.msgId,
    headers: h,
    timeout: timeoutMs,
  }
  try {
    const ack = await sendAtEndOfTurn(() => js.publish(subject, data, options))
    if (!ack.duplicate || duplicates === 'trust') return ack
    const stored = await storedEvent(js, ack)
    if (stored !== null && isSameEvent(stored, event)) return ack
    // Not this event under its id: stored again under one no other identity can make.
    const storedAs = `${event.msgId}~${idKey === undefined ? crypto.randomUUID() : macOf(idKey, event.msgId)}`
    const again = await js.publish(subject, data, { ...options, msgID: storedAs })
    if (!again.duplicate)
      onIdTaken?.({
        msgId: event.msgId,
        stream: ack.stream,
        seq: ack.seq,
        storedSubject: stored?.subject ?? null,
        storedAs,
      })
    return again
  } catch (error) {
    throw new PublishError(`publish to ${event.subject} failed`, { cause: error })
  }
}

/** The message a duplicate ack points at; null when it cannot be read (the identity may not, or no answer). */
async function storedEvent(
  js: JetStreamClient,
  ack: PubAck,
): Promise<{ subject: string; payload: Record<string, unknown> } | null> {
  try {
    const jsm = await js.jetstreamManager(false)
    const stored = await jsm.streams.getMessage(ack.stream, { seq: ack.seq })
    if (stored === null) return null
    const payload: unknown = stored.json()
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload)
      ? { subject: stored.subject, payload: payload as Record<string, unknown> }
      : { subject: stored.subject, payload: {} }
  } catch {
    return null
  }
}

/**
 * Whether a stored message is this event (a retry of it, from this delivery
 * or another): the same event subject in either lane (the reconciler
 * publishes in the standard lane what a handler may have published in the
 * express one), the same order, and the same reason when it has one (a
 * cancellation request planted under a deadline's id must not pass for it).
 */
function isSameEvent(
  stored: { subject: string; payload: Record<string, unknown> },
  event: OutgoingEvent,
): boolean {
  const { payload } = event as { payload: Record<string, unknown> }
  return (
    splitLane(stored.subject).subject === event.subject &&
    stored.payload['orderId'] === payload['orderId'] &&
    stored.payload['reason'] === payload['reason']
  )
}
