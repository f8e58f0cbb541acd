/*
 * nats-server message schedules (ADR-51, nats-server 2.12+): a message on a
 * schedule subject with `Nats-Schedule: @at <time>` is held by the stream and,
 * when due, published by the server on `Nats-Schedule-Target` (a subject of
 * the same stream) with the schedule's payload. The stream needs
 * `allow_msg_schedules`. Nothing lives in a process: a restart of any worker
 * or server forgets no schedule.
 */
import type { JetStreamClient } from '@nats-io/jetstream'
import { headers as createHeaders } from '@nats-io/nats-core'
import { HEADERS } from '../../schemas/subjects.ts'

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
  target: string
  at: Date
  payload: unknown
  /** Event version and correlation id, carried by the message the server publishes. */
  version: number
  correlationId: string
  /** De-duplication id of the schedule message itself. */
  msgId: string
}

/** Publishes (or replaces) a schedule and waits for the stream's ack. */
export async function publishSchedule(js: JetStreamClient, message: ScheduledMessage, timeoutMs: number) {
  const h = createHeaders()
  h.set(SCHEDULE_HEADERS.schedule, atSchedule(message.at))
  h.set(SCHEDULE_HEADERS.target, message.target)
  h.set(HEADERS.correlationId, message.correlationId)
  h.set(HEADERS.eventVersion, String(message.version))
  return js.publish(message.scheduleSubject, new TextEncoder().encode(JSON.stringify(message.payload)), {
    msgID: message.msgId,
    headers: h,
    timeout: timeoutMs,
  })
}
