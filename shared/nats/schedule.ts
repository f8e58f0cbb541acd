/*
 * nats-server message schedules (ADR-51, nats-server 2.12+): a message on a
 * schedule subject with `Nats-Schedule: @at <time>` is held by the stream and,
 * when due, published by the server on `Nats-Schedule-Target` (a subject of
 * the same stream) with the schedule's payload. The stream needs
 * `allow_msg_schedules` (only DEADLINES has it). Nothing lives in a process:
 * a restart of any worker or server forgets no schedule.
 *
 * The server copies the schedule's headers (less `Nats-Schedule*` and
 * `Nats-Msg-Id`) onto the message it publishes, so the schedule carries the
 * CloudEvents attributes of the event it stands for; a reader skips messages
 * with a `Nats-Schedule` header (the holders).
 */
import type { JetStreamClient } from '@nats-io/jetstream'
import { headers as createHeaders } from '@nats-io/nats-core'
import { HEADERS, splitLane } from '../../schemas/subjects.ts'
import { writeTraceHeaders, type TraceContext } from '../observability/trace-context.ts'
import { EVENT_SOURCE_ROOT, setCloudEventHeaders, toCloudEventAttributes } from './cloudevents.ts'
import { laneYield } from './lane-yield.ts'
import { setHeader } from './set-header.ts'

export const SCHEDULE_HEADERS = {
  schedule: 'Nats-Schedule',
  target: 'Nats-Schedule-Target',
} as const

/** `@at` takes an RFC 3339 time (milliseconds kept; nats-server fires within ~250 ms of it). */
export function atSchedule(at: Date): string {
  return `@at ${at.toISOString()}`
}

export interface ScheduledMessage {
  /** The subject that holds the schedule (one schedule per subject). */
  scheduleSubject: string
  /** Where the server publishes it when due (`deadlines.fired.<eventSubject>`). */
  target: string
  /** The event's subject in its lane (`orders.cancel_requested` or `orders.cancel_requested.express`). */
  eventSubject: string
  at: Date
  /** The event the server publishes on `target`; its `occurredAt` is the CloudEvents `time`. */
  payload: { occurredAt: string; orderId?: string }
  /** Event version and correlation id, carried by the message the server publishes. */
  version: number
  correlationId: string
  /**
   * De-duplication id of the schedule message itself, and the CloudEvents
   * `id` of the event it produces (the server strips `Nats-Msg-Id`).
   */
  msgId: string
  /** The CloudEvents `source` of the produced event (`toEventSource(name)`); default `/order-saga`. */
  source?: string
  /** The span that set the schedule: the event the server publishes continues its trace. */
  trace?: TraceContext | undefined
}

/** Publishes (or replaces) a schedule and waits for the stream's ack. */
export async function publishSchedule(js: JetStreamClient, message: ScheduledMessage, timeoutMs: number) {
  const held = laneYield()
  if (held !== undefined) await held
  const h = createHeaders()
  setHeader(h, SCHEDULE_HEADERS.schedule, atSchedule(message.at))
  setHeader(h, SCHEDULE_HEADERS.target, message.target)
  setHeader(h, HEADERS.correlationId, message.correlationId)
  setHeader(h, HEADERS.eventVersion, String(message.version))
  const { eventSubject, msgId, version, payload, source = EVENT_SOURCE_ROOT } = message
  // The CloudEvents `type` names the event, whichever lane it travels in (as publishEvent does).
  const event = {
    natsSubject: splitLane(eventSubject).subject,
    msgId,
    source,
    payload: { ...payload, version },
  }
  setCloudEventHeaders(h, toCloudEventAttributes(event))
  if (message.trace !== undefined)
    writeTraceHeaders(message.trace, (name, value) => setHeader(h, name, value))
  return js.publish(message.scheduleSubject, new TextEncoder().encode(JSON.stringify(message.payload)), {
    msgID: message.msgId,
    headers: h,
    timeout: timeoutMs,
  })
}
