// Operator functions over the DLQ stream: list, show, replay, purge (`npm run dlq`).
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type StoredMsg,
} from '@nats-io/jetstream'
import { headers as createHeaders, type MsgHdrs } from '@nats-io/nats-core'
import * as v from 'valibot'
import { EVENT_SCHEMAS } from '../../schemas/events.ts'
import {
  DEAD_LETTER_HEADERS,
  DEAD_LETTER_PREFIX,
  DEADLINE_FIRED_PREFIX,
  DEADLINE_SCHEDULE_PREFIX,
  HEADERS,
  laneSubject,
  LEGACY_DEADLINE_SCHEDULE_PREFIX,
  splitLane,
  STREAMS,
  SUBJECTS,
} from '../../schemas/subjects.ts'
import { EVENT_SOURCES } from './cloudevents.ts'
import { isControlHeader } from './control-headers.ts'
import { notPublishedMarker } from './not-published.ts'
import { publishEvent } from './publish.ts'

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
/** A listing that stopped before its last dead letter (its cause says why): no partial list is answered as whole. */
export class DeadLetterListError extends Error {
  override readonly name = 'DeadLetterListError'
}

/**
 * Dead letters per pull of the list: their headers only, a few hundred bytes
 * each, and at most 32 MiB should a publisher fill headers to the 1 MiB a
 * message may carry (half of what the client buffers before the server
 * drops it as slow).
 */
const LIST_BATCH = 32

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
  const tokens = subject.split('.')
  const last = tokens.length - 1
  const wellFormed =
    subject.length <= 256 &&
    tokens[0] === DEAD_LETTER_PREFIX &&
    last >= 1 &&
    tokens.every(
      (token, i) =>
        token !== '' &&
        !/[\s\p{Cc}]/u.test(token) &&
        (token === '*' || (token === '>' && i === last) || !/[*>]/.test(token)),
    )
  if (!wellFormed) {
    throw new InvalidDeadLetterSubjectError(
      `${JSON.stringify(subject.slice(0, 80))} is not a dead-letter subject (dlq.<subject>: tokens that are not empty, * or a final > as wildcards)`,
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

/**
 * Every dead letter, oldest first, read with an ordered consumer (nothing is
 * acked or changed) that brings their headers only: a summary needs nothing
 * else, and a queue of large dead letters is not pulled whole (which had the
 * server drop the reader as a slow consumer). Throws
 * {@link DeadLetterListError} when a pull ends in an error before the last.
 */
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
  const reader = await js.consumers.get(DLQ, {
    headers_only: true,
    ...(subject === undefined ? {} : { filter_subjects: subject }),
  })
  const found: DeadLetterSummary[] = []
  try {
    // Until the last one (nothing pending after it), or a pull that brings
    // nothing (removed meanwhile); a pull that fails is an error, not the end.
    for (let done = false; !done && found.length < limit;) {
      const batch = await reader.fetch({
        max_messages: Math.min(LIST_BATCH, limit - found.length),
        expires: timeoutMs,
      })
      let brought = 0
      for await (const m of batch) {
        found.push(toSummary(m.seq, m.subject, m.headers, m.time))
        brought++
        done = m.info.pending === 0 || found.length >= limit
        if (done) break
      }
      if (done) break
      const closed = await batch.closed()
      if (closed instanceof Error)
        throw new DeadLetterListError(
          `listing the dead letters stopped after ${found.length} of about ${total}: ${closed.message}`,
          { cause: closed },
        )
      done = brought === 0
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

/** Subjects that hold schedules: never replayed (a replay would be a schedule of whoever replays it). */
const SCHEDULE_HOLDERS = [`${DEADLINE_SCHEDULE_PREFIX}.`, `${LEGACY_DEADLINE_SCHEDULE_PREFIX}.`]

/**
 * Publishes a dead letter's original again, with msg id `replay:DLQ:<id>`:
 * replaying an id twice inside the duplicate window stores it once. The
 * dead letter must be on `dlq.<its original subject>` and name its original's
 * stream and sequence.
 *
 * - An original from ORDERS is read back from ORDERS by that sequence and
 *   published, body and headers (correlation id included, JetStream control
 *   headers left out), on its subject; never the dead letter's own copy:
 *   anyone who may dead-letter a subject can store a dead letter of its
 *   choosing, but not an event in ORDERS. One that has left ORDERS
 *   (`STREAM_MAX_AGE_MS`) or is on another subject cannot be replayed.
 * - A due deadline from DEADLINES is gone from there once dead-lettered (a
 *   work queue drops what its consumer terminated), so the dead letter's copy
 *   is what there is: only the inventory identity may write
 *   `dlq.deadlines.fired.*`, and the copy must be an `orders.cancel_requested`
 *   for `deadline_exceeded`. It is published as that event into ORDERS, in its
 *   lane, as the relay would have.
 *
 * Records nothing else; the consumers are idempotent.
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
  const refuse = (why: string) => new DeadLetterNotReplayableError(`dead letter ${id} ${why}`)
  if (subject === null || stream === null || sequence === null || sequence < 1)
    throw refuse(`has no original (${header(stored.header, DEAD_LETTER_HEADERS.reason) ?? 'no reason'})`)
  if (stored.subject !== `${DEAD_LETTER_PREFIX}.${subject}`)
    throw refuse(`is stored on ${stored.subject} but names ${subject}: not replayed`)
  if (SCHEDULE_HOLDERS.some((prefix) => subject.startsWith(prefix)))
    throw refuse(`is a schedule (${subject}): not replayed`)
  const msgId = `replay:${DLQ}:${id}`
  if (stream === STREAMS.deadlines.name) return replayDeadline(js, id, stored, subject, msgId, timeoutMs)
  if (stream !== STREAMS.orders.name)
    throw refuse(
      `names stream ${stream}; only ${STREAMS.orders.name} and ${STREAMS.deadlines.name} are replayed`,
    )
  const original = await jsm.streams.getMessage(STREAMS.orders.name, { seq: sequence })
  if (original === null) throw refuse(`has its original (${stream} #${sequence}) no longer in its stream`)
  if (original.subject !== subject)
    throw refuse(`names ${subject} but ${stream} #${sequence} is on ${original.subject}: not replayed`)
  // Every publisher sets both (the consumers refuse an event without them): a
  // replay would give such a message a message id and this identity's word.
  if (!original.header.has(HEADERS.correlationId) || !original.header.has(HEADERS.eventVersion))
    throw refuse(
      `has an original (${stream} #${sequence}) without ${HEADERS.correlationId} and ${HEADERS.eventVersion}: not a published event, not replayed`,
    )
  // A direct get's answer, a sourced copy or a dead letter stored on the event
  // subject: the consumers refused it as not published; a replay would not.
  const marker = notPublishedMarker(original.header)
  if (marker !== undefined)
    throw refuse(
      `has an original (${stream} #${sequence}) carrying ${marker}: a stored copy, not a published event, not replayed`,
    )
  const h = createHeaders()
  const copied: Record<string, string[]> = {}
  for (const [key, values] of original.header) {
    if (DLQ_HEADER_NAMES.has(key) || isControlHeader(key)) continue
    for (const value of values) h.append(key, value)
    copied[key] = [...values]
  }
  try {
    let stored = msgId
    let ack = await js.publish(subject, original.data, { headers: h, msgID: msgId, timeout: timeoutMs })
    if (ack.duplicate && !(await isSameMessage(jsm, ack, subject, original.data))) {
      // Replay ids can be guessed: another identity stored a message of its own under this one.
      stored = `${msgId}~${crypto.randomUUID()}`
      ack = await js.publish(subject, original.data, { headers: h, msgID: stored, timeout: timeoutMs })
    }
    return {
      id,
      subject: subject,
      msgId: stored,
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

/** A dead-lettered due deadline: published as the `orders.cancel_requested` it carries, into ORDERS. */
async function replayDeadline(
  js: JetStreamClient,
  id: number,
  stored: StoredMsg,
  subject: string,
  msgId: string,
  timeoutMs: number,
): Promise<ReplayResult> {
  const prefix = `${DEADLINE_FIRED_PREFIX}.`
  const lane = subject.startsWith(prefix) ? splitLane(subject.slice(prefix.length)) : undefined
  if (lane?.subject !== SUBJECTS.orderCancelRequested)
    throw new DeadLetterNotReplayableError(
      `dead letter ${id} from DEADLINES is on ${subject}, not a due deadline`,
    )
  let payload: unknown
  try {
    payload = stored.json()
  } catch {
    payload = undefined
  }
  const parsed = v.safeParse(EVENT_SCHEMAS[SUBJECTS.orderCancelRequested], payload)
  if (!parsed.success || parsed.output.reason !== 'deadline_exceeded')
    throw new DeadLetterNotReplayableError(
      `dead letter ${id} is not a valid deadline (an orders.cancel_requested for deadline_exceeded): not replayed`,
    )
  const correlationId = header(stored.header, HEADERS.correlationId) ?? 'none'
  try {
    let storedAs = msgId
    const ack = await publishEvent(
      js,
      { subject: SUBJECTS.orderCancelRequested, payload: parsed.output, msgId },
      {
        correlationId,
        priority: lane.priority,
        timeoutMs,
        source: EVENT_SOURCES.inventory,
        onIdTaken: (taken) => (storedAs = taken.storedAs),
      },
    )
    return {
      id,
      subject: laneSubject(SUBJECTS.orderCancelRequested, lane.priority),
      msgId: storedAs,
      headers: { [HEADERS.correlationId]: [correlationId] },
      bytes: JSON.stringify(parsed.output).length,
      stream: ack.stream,
      seq: ack.seq,
      duplicate: ack.duplicate,
    }
  } catch (error) {
    throw new DeadLetterReplayError(`replaying dead letter ${id} (a deadline) failed`, { cause: error })
  }
}

/**
 * Removes every dead letter, or only those on `subject`; returns how many went.
 * One message delete each, not a stream purge: the JetStream API guard refuses
 * purging `DLQ` (an empty purge request is all any identity can have
 * nats-server send for it; docs/security.md), and a delete needs a sequence.
 */
export async function purgeDeadLetters(
  js: JetStreamClient,
  jsm: JetStreamManager,
  { subject, timeoutMs = 5_000 }: Omit<ListOptions, 'limit'> = {},
): Promise<number> {
  // What is there now, read as the list reads it (the stream asked first: no pull for a subject with none).
  const sequences = (
    await listDeadLetters(js, jsm, {
      ...(subject === undefined ? {} : { subject }),
      limit: Number.MAX_SAFE_INTEGER,
      timeoutMs,
    })
  ).map((letter) => letter.id)
  let removed = 0
  for (let at = 0; at < sequences.length; at += 64) {
    const deleted = await Promise.all(
      sequences.slice(at, at + 64).map((seq) =>
        jsm.streams.deleteMessage(DLQ, seq, false).catch(async (error: unknown) => {
          // Gone meanwhile (another purge, the stream's limits): not counted. Anything else fails the purge.
          const gone = await jsm.streams.getMessage(DLQ, { seq }).then(
            (m) => m === null,
            (e: unknown) => e instanceof JetStreamApiError && e.code === JetStreamApiCodes.NoMessageFound,
          )
          if (gone) return false
          throw error
        }),
      ),
    )
    removed += deleted.filter(Boolean).length
  }
  return removed
}

/** Whether the message a duplicate ack points at is this replay's (same subject and body). */
async function isSameMessage(
  jsm: JetStreamManager,
  ack: { stream: string; seq: number },
  subject: string,
  data: Uint8Array,
): Promise<boolean> {
  // A read that fails fails the replay (the caller retries it); never a second copy on a guess.
  const stored = await jsm.streams.getMessage(ack.stream, { seq: ack.seq })
  return (
    stored !== null &&
    stored.subject === subject &&
    stored.data.length === data.length &&
    stored.data.every((byte, i) => byte === data[i])
  )
}
