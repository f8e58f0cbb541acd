import type { JetStreamClient, PubAck } from '@nats-io/jetstream'
import { headers as createHeaders, type MsgHdrs } from '@nats-io/nats-core'
import { HEADERS, laneSubject, type Priority, type Subject } from '../../schemas/subjects.ts'
import type { EventOf } from '../../schemas/events.ts'
import { writeTraceHeaders, type TraceContext } from '../observability/trace-context.ts'
import { EVENT_SOURCE_ROOT, setCloudEventHeaders, toCloudEventAttributes } from './cloudevents.ts'
import { sendAtEndOfTurn } from './end-of-turn.ts'
import { setHeader } from './set-header.ts'
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
  { correlationId, timeoutMs, source, priority = 'standard', trace }: PublishOptions,
): Promise<PubAck> {
  const held = laneYield()
  if (held !== undefined) await held
  const h = toEventHeaders(event, { correlationId, trace, ...(source === undefined ? {} : { source }) })
  const data = encoder.encode(JSON.stringify(event.payload))
  const options = {
    msgID: event.msgId,
    headers: h,
    timeout: timeoutMs,
  }
  try {
    return await sendAtEndOfTurn(() => js.publish(laneSubject(event.subject, priority), data, options))
  } catch (error) {
    throw new PublishError(`publish to ${event.subject} failed`, { cause: error })
  }
}
