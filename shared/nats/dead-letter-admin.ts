// Operator functions over the DLQ stream: list, show, replay, purge (`npm run dlq`).
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type StoredMsg,
} from '@nats-io/jetstream'
import { headers as createHeaders, type MsgHdrs } from '@nats-io/nats-core'
import { DEAD_LETTER_HEADERS, DEAD_LETTER_PREFIX, HEADERS, STREAMS } from '../../schemas/subjects.ts'

const DLQ = STREAMS.deadLetters.name
const DLQ_HEADER_NAMES = new Set<string>(Object.values(DEAD_LETTER_HEADERS))

export class DeadLetterNotFoundError extends Error {
  override readonly name = 'DeadLetterNotFoundError'
}
export class DeadLetterNotReplayableError extends Error {
  override readonly name = 'DeadLetterNotReplayableError'
}
export class DeadLetterReplayError extends Error {
  override readonly name = 'DeadLetterReplayError'
}
export class InvalidDeadLetterSubjectError extends Error {
  override readonly name = 'InvalidDeadLetterSubjectError'
}

export interface DeadLetterSummary {
  /** The dead letter's sequence in the DLQ stream. */
  id: number
  dlqSubject: string
  /** `Dlq-Time`, else when the DLQ stored it. */
  time: string
  /** Null when the original had left its stream before it was copied. */
  subject: string | null
  stream: string | null
  sequence: number | null
  consumer: string | null
  deliveries: number | null
  reason: string
}

export interface DeadLetterDetail extends DeadLetterSummary {
  headers: Record<string, string[]>
  /** The body as UTF-8 text (empty when the original was gone). */
  payload: string
}

const header = (h: MsgHdrs | undefined, name: string): string | null => {
  const value = h?.get(name) ?? ''
  return value === '' ? null : value
}
const count = (value: string | null): number | null =>
  value !== null && /^\d+$/.test(value) ? Number(value) : null

function toSummary(
  id: number,
  dlqSubject: string,
  h: MsgHdrs | undefined,
  storedAt: Date,
): DeadLetterSummary {
  return {
    id,
    dlqSubject,
    time: header(h, DEAD_LETTER_HEADERS.time) ?? storedAt.toISOString(),
    subject: header(h, DEAD_LETTER_HEADERS.subject),
    stream: header(h, DEAD_LETTER_HEADERS.stream),
    sequence: count(header(h, DEAD_LETTER_HEADERS.sequence)),
    consumer: header(h, DEAD_LETTER_HEADERS.consumer),
    deliveries: count(header(h, DEAD_LETTER_HEADERS.deliveries)),
    reason: header(h, DEAD_LETTER_HEADERS.reason) ?? '',
  }
}

export function assertDeadLetterSubject(subject: string): void {
  if (!subject.startsWith(`${DEAD_LETTER_PREFIX}.`) || /\s/.test(subject)) {
    throw new InvalidDeadLetterSubjectError(
      `${JSON.stringify(subject)} is not a dead-letter subject (dlq.<subject>)`,
    )
  }
}

export interface ListOptions {
  /** Only dead letters on this subject (wildcards allowed), e.g. `dlq.orders.created`. */
  subject?: string
  /** Stop after this many (default 10 000). */
  limit?: number
  /** Deadline of one batch pull (default 5 s). */
  timeoutMs?: number
}

/** Every dead letter, oldest first, read with an ordered consumer (nothing is acked or changed). */
export async function listDeadLetters(
  js: JetStreamClient,
  jsm: JetStreamManager,
  { subject, limit = 10_000, timeoutMs = 5_000 }: ListOptions = {},
): Promise<DeadLetterSummary[]> {
  if (subject !== undefined) assertDeadLetterSubject(subject)
  const { state } = await jsm.streams.info(
    DLQ,
    subject === undefined ? undefined : { subjects_filter: subject },
  )
  const total =
    subject === undefined ? state.messages : Object.values(state.subjects ?? {}).reduce((a, b) => a + b, 0)
  if (total === 0) return []
  const reader = await js.consumers.get(DLQ, subject === undefined ? {} : { filter_subjects: subject })
  const found: DeadLetterSummary[] = []
  try {
    // Until the last one (nothing pending after it) or a pull that brings nothing.
    for (let done = false; !done && found.length < limit;) {
      const batch = await reader.fetch({
        max_messages: Math.min(256, limit - found.length),
        expires: timeoutMs,
      })
      done = true
      for await (const m of batch) {
        found.push(toSummary(m.seq, m.subject, m.headers, m.time))
        done = m.info.pending === 0
        if (done) break
      }
    }
  } finally {
    await reader.delete().catch(() => false) // ephemeral anyway: the server drops it when idle
  }
  return found
}

async function load(jsm: JetStreamManager, id: number): Promise<StoredMsg> {
  if (!Number.isSafeInteger(id) || id < 1)
    throw new DeadLetterNotFoundError(`${id} is not a dead-letter id (a DLQ sequence >= 1)`)
  const stored = await jsm.streams.getMessage(DLQ, { seq: id })
  if (stored === null) throw new DeadLetterNotFoundError(`no dead letter ${id} in ${DLQ}`)
  return stored
}

/** One dead letter with all its headers and its body. */
export async function showDeadLetter(jsm: JetStreamManager, id: number): Promise<DeadLetterDetail> {
  const stored = await load(jsm, id)
  const headers: Record<string, string[]> = {}
  for (const [key, values] of stored.header) headers[key] = [...values]
  return {
    ...toSummary(stored.seq, stored.subject, stored.header, stored.time),
    headers,
    payload: new TextDecoder().decode(stored.data),
  }
}

export interface ReplayResult {
  id: number
  subject: string
  msgId: string
  headers: Record<string, string[]>
  bytes: number
  stream: string
  seq: number
  /** True when the same id was replayed inside the duplicate window: nothing new was stored. */
  duplicate: boolean
}

/** The streams the saga's consumers read: a dead letter's original is in one of them. */
const REPLAYABLE_STREAMS: readonly string[] = [STREAMS.orders.name, STREAMS.deadlines.name]

/**
 * Publishes a dead letter's original again, on its subject, with msg id
 * `replay:DLQ:<id>`: replaying an id twice inside the duplicate window stores
 * it once. What is published is the original message read back from its
 * stream by the sequence the dead letter names (body and headers, correlation
 * id included), never the dead letter's own copy: anyone who may dead-letter
 * a subject can store a dead letter of its choosing, but not an event in
 * ORDERS. A dead letter whose original has left its stream (`STREAM_MAX_AGE_MS`)
 * or does not match it cannot be replayed. Records nothing else; the
 * consumers are idempotent.
 */
export async function replayDeadLetter(
  js: JetStreamClient,
  jsm: JetStreamManager,
  id: number,
  { timeoutMs = 5_000 }: { timeoutMs?: number } = {},
): Promise<ReplayResult> {
  const stored = await load(jsm, id)
  const subject = header(stored.header, DEAD_LETTER_HEADERS.subject)
  const stream = header(stored.header, DEAD_LETTER_HEADERS.stream)
  const sequence = count(header(stored.header, DEAD_LETTER_HEADERS.sequence))
  if (subject === null || stream === null || sequence === null || sequence < 1) {
    throw new DeadLetterNotReplayableError(
      `dead letter ${id} has no original (${header(stored.header, DEAD_LETTER_HEADERS.reason) ?? 'no reason'})`,
    )
  }
  if (!REPLAYABLE_STREAMS.includes(stream)) {
    throw new DeadLetterNotReplayableError(
      `dead letter ${id} names stream ${stream}; only ${REPLAYABLE_STREAMS.join(' and ')} are replayed`,
    )
  }
  const original = await jsm.streams.getMessage(stream, { seq: sequence }).catch((error: unknown) => {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.NoMessageFound) return null
    throw error
  })
  if (original === null) {
    throw new DeadLetterNotReplayableError(
      `the original of dead letter ${id} (${stream} #${sequence}) is no longer in its stream`,
    )
  }
  if (original.subject !== subject) {
    throw new DeadLetterNotReplayableError(
      `dead letter ${id} names ${subject} but ${stream} #${sequence} is on ${original.subject}: not replayed`,
    )
  }
  const h = createHeaders()
  const copied: Record<string, string[]> = {}
  for (const [key, values] of original.header) {
    if (DLQ_HEADER_NAMES.has(key) || key === HEADERS.msgId) continue
    for (const value of values) h.append(key, value)
    copied[key] = [...values]
  }
  const msgId = `replay:${DLQ}:${id}`
  try {
    const ack = await js.publish(subject, original.data, { headers: h, msgID: msgId, timeout: timeoutMs })
    return {
      id,
      subject,
      msgId,
      headers: copied,
      bytes: original.data.length,
      stream: ack.stream,
      seq: ack.seq,
      duplicate: ack.duplicate,
    }
  } catch (error) {
    throw new DeadLetterReplayError(`replaying dead letter ${id} to ${subject} failed`, { cause: error })
  }
}

/** Removes every dead letter, or only those on `subject`; returns how many went. */
export async function purgeDeadLetters(
  jsm: JetStreamManager,
  { subject }: { subject?: string } = {},
): Promise<number> {
  if (subject !== undefined) assertDeadLetterSubject(subject)
  const result = await jsm.streams.purge(DLQ, subject === undefined ? undefined : { filter: subject })
  return result.purged
}
