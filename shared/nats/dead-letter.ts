import type { JetStreamClient, JsMsg } from '@nats-io/jetstream'
import { headers as createHeaders } from '@nats-io/nats-core'
import { DEAD_LETTER_HEADERS, toDeadLetterSubject } from '../../schemas/subjects.ts'
import type { Logger } from '../observability/logger.ts'
import { isControlHeader } from './control-headers.ts'
import { deadLetterMsgId } from './dead-letter-advisory.ts'

export type PoisonReason =
  'malformed_json' | 'schema_violation' | 'unexpected_subject' | 'unexpected_origin' | 'max_deliver_exhausted'

/**
 * Copies the message to `dlq.<subject>` with why and where it came from in
 * headers, then terminates it. When the copy cannot be stored the message is
 * nak'd instead, so nothing is lost. Returns whether it was dead-lettered.
 */
export async function deadLetter(
  js: JetStreamClient,
  msg: JsMsg,
  reason: PoisonReason,
  detail: string,
  consumer: string,
  logger: Logger,
  timeoutMs: number,
  /** The identity's dead-letter id key (deadLetterMsgId). */
  idKey?: Uint8Array,
): Promise<boolean> {
  const h = createHeaders()
  for (const [key, values] of msg.headers ?? []) {
    if (isControlHeader(key)) continue
    for (const value of values) h.append(key, value)
  }
  const info = msg.info
  h.set(DEAD_LETTER_HEADERS.reason, `${reason}: ${detail}`.slice(0, 1024).replace(/[\r\n]+/g, ' '))
  h.set(DEAD_LETTER_HEADERS.subject, msg.subject)
  h.set(DEAD_LETTER_HEADERS.stream, info.stream)
  h.set(DEAD_LETTER_HEADERS.sequence, String(info.streamSequence))
  h.set(DEAD_LETTER_HEADERS.deliveries, String(info.deliveryCount))
  h.set(DEAD_LETTER_HEADERS.consumer, consumer)
  h.set(DEAD_LETTER_HEADERS.time, new Date().toISOString())
  const log = logger.child({ consumer, subject: msg.subject, seq: info.streamSequence, reason })
  try {
    await js.publish(toDeadLetterSubject(msg.subject), msg.data, {
      headers: h,
      // One dead letter per (stream, sequence, consumer), however often we get here.
      msgID: deadLetterMsgId(info.stream, info.streamSequence, consumer, idKey),
      timeout: timeoutMs,
    })
  } catch (error) {
    log.error({ err: error }, 'could not store dead letter; will retry')
    msg.nak(5_000)
    return false
  }
  msg.term(`${reason}`)
  log.warn({ detail }, 'message dead-lettered')
  return true
}
