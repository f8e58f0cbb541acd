import type { JetStreamClient, PubAck } from '@nats-io/jetstream'
import { headers as createHeaders } from '@nats-io/nats-core'
import { HEADERS, type Subject } from '../../schemas/subjects.ts'
import type { EventOf } from '../../schemas/events.ts'

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

/**
 * Publishes one event and waits for JetStream's ack. The `Nats-Msg-Id` header
 * makes a retried publish (same id) a no-op inside the duplicate window.
 */
export async function publishEvent(
  js: JetStreamClient,
  event: OutgoingEvent,
  { correlationId, timeoutMs }: { correlationId: string; timeoutMs: number },
): Promise<PubAck> {
  const h = createHeaders()
  h.set(HEADERS.correlationId, correlationId)
  h.set(HEADERS.eventVersion, String(event.payload.version))
  try {
    return await js.publish(event.subject, encoder.encode(JSON.stringify(event.payload)), {
      msgID: event.msgId,
      headers: h,
      timeout: timeoutMs,
    })
  } catch (error) {
    throw new PublishError(`publish to ${event.subject} failed`, { cause: error })
  }
}
