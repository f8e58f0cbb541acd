// JetStream's MAX_DELIVERIES and MSG_TERMINATED advisories, read and turned
// into dead letters shaped exactly like the ones the consumer loop stores.
import { macOf } from './identity-key.ts'
import type { StoredMsg } from '@nats-io/jetstream'
import { headers as createHeaders, type MsgHdrs } from '@nats-io/nats-core'
import * as v from 'valibot'
import { DEAD_LETTER_HEADERS, toDeadLetterSubject } from '../../schemas/subjects.ts'
import { isControlHeader } from './control-headers.ts'

/** Advisory subject prefixes; the server appends `.<stream>.<consumer>`. */
export const ADVISORY_PREFIXES = {
  maxDeliveries: '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES',
  terminated: '$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED',
} as const

export function advisorySubjects(stream: string, consumer = '*'): string[] {
  return [
    `${ADVISORY_PREFIXES.maxDeliveries}.${stream}.${consumer}`,
    `${ADVISORY_PREFIXES.terminated}.${stream}.${consumer}`,
  ]
}

// Fields as nats-server 2.10.27 sends them (measured; see test/dead-letters.test.ts):
//   max_deliver: type, id, timestamp, stream, consumer, stream_seq, deliveries
//   terminated:  type, id, timestamp, stream, consumer, consumer_seq, stream_seq, deliveries, reason?
// (`reason` only when the term carried one; `domain` only in a JetStream domain.)
const common = {
  id: v.string(),
  stream: v.pipe(v.string(), v.minLength(1)),
  consumer: v.pipe(v.string(), v.minLength(1)),
  stream_seq: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  deliveries: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
}

const AdvisorySchema = v.variant('type', [
  v.object({ type: v.literal('io.nats.jetstream.advisory.v1.max_deliver'), ...common }),
  v.object({
    type: v.literal('io.nats.jetstream.advisory.v1.terminated'),
    ...common,
    reason: v.optional(v.string()),
  }),
])

export type DeliveryAdvisory = v.InferOutput<typeof AdvisorySchema>

/** Reads an advisory payload; errors as values (a bad one cannot be retried into shape). */
export function parseAdvisory(
  data: Uint8Array,
): { ok: true; advisory: DeliveryAdvisory } | { ok: false; detail: string } {
  let raw: unknown
  try {
    raw = JSON.parse(new TextDecoder().decode(data))
  } catch (error) {
    return { ok: false, detail: `not JSON: ${error instanceof Error ? error.message : String(error)}` }
  }
  const result = v.safeParse(AdvisorySchema, raw)
  if (result.success) return { ok: true, advisory: result.output }
  return {
    ok: false,
    detail: result.issues.map((i) => `${v.getDotPath(i) ?? '(root)'}: ${i.message}`).join('; '),
  }
}

/** The subject of dead letters whose original had left its stream before it could be copied. */
export const missingOriginalSubject = (stream: string): string => toDeadLetterSubject(`_missing.${stream}`)

export const ORIGINAL_MISSING = 'original message no longer in stream'

/** `Dlq-Reason` for an advisory: the loop's reason format, `<code>: <detail>`. */
export function advisoryReason(advisory: DeliveryAdvisory, originalFound: boolean): string {
  const code =
    advisory.type === 'io.nats.jetstream.advisory.v1.max_deliver' ? 'max_deliver_exhausted' : 'terminated'
  if (!originalFound) return `${code}: ${ORIGINAL_MISSING}`
  if (advisory.type === 'io.nats.jetstream.advisory.v1.terminated') {
    return advisory.reason === undefined || advisory.reason === '' ? code : `${code}: ${advisory.reason}`
  }
  return `${code}: not acknowledged after delivery ${advisory.deliveries}`
}

export interface DeadLetterCopy {
  subject: string
  data: Uint8Array
  headers: MsgHdrs
  /** The id the consumer loop uses too, so one message is stored once whoever gets there first. */
  msgId: string
}

/**
 * One dead letter per (stream, sequence, consumer), whoever stores it (the
 * consumer loop or the advisory capture, in the same process). The DLQ's
 * duplicate window covers the whole stream and its ids could be guessed, so
 * another identity allowed to publish on a `dlq.` subject could store a
 * message under the id first and the real dead letter would be dropped. With
 * `key` (the identity's own secret, identity-key.ts) the id ends in a
 * MAC of the rest that only this identity can make.
 */
export function deadLetterMsgId(stream: string, seq: number, consumer: string, key?: Uint8Array): string {
  const id = `dlq:${stream}:${seq}:${consumer}`
  if (key === undefined) return id
  return `${id}:${macOf(key, id)}`
}

/**
 * The dead letter for `advisory`: a copy of `original` (headers without its
 * `Nats-Msg-Id`, plus the `Dlq-*` headers), or, when the original is gone, an
 * empty body on `dlq._missing.<stream>` so nothing disappears silently.
 */
export function toDeadLetterCopy(
  advisory: DeliveryAdvisory,
  original: StoredMsg | null,
  now = new Date(),
  idKey?: Uint8Array,
): DeadLetterCopy {
  const h = createHeaders()
  if (original !== null) {
    for (const [key, values] of original.header) {
      if (isControlHeader(key)) continue
      for (const value of values) h.append(key, value)
    }
    h.set(DEAD_LETTER_HEADERS.subject, original.subject)
  }
  h.set(
    DEAD_LETTER_HEADERS.reason,
    advisoryReason(advisory, original !== null)
      .slice(0, 1024)
      .replace(/[\r\n]+/g, ' '),
  )
  h.set(DEAD_LETTER_HEADERS.stream, advisory.stream)
  h.set(DEAD_LETTER_HEADERS.sequence, String(advisory.stream_seq))
  h.set(DEAD_LETTER_HEADERS.deliveries, String(advisory.deliveries))
  h.set(DEAD_LETTER_HEADERS.consumer, advisory.consumer)
  h.set(DEAD_LETTER_HEADERS.time, now.toISOString())
  return {
    subject:
      original === null ? missingOriginalSubject(advisory.stream) : toDeadLetterSubject(original.subject),
    data: original === null ? new Uint8Array(0) : original.data,
    headers: h,
    msgId: deadLetterMsgId(advisory.stream, advisory.stream_seq, advisory.consumer, idKey),
  }
}
