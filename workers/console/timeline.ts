/*
 * One order's timeline without scanning the streams. The order-status record
 * lists every event the projection applied, with its subject and time; each
 * event is found in ORDERS by a batched direct get from that time on its
 * subject (a few messages in), which gives its stream sequence, when it was
 * stored and who published it. Which consumers take it comes from the saga's
 * consumer table, whether each has acknowledged it from the consumer's ack
 * floor, retries and dead letters from the order's own index entries
 * (index-filer.ts).
 */
import type { JetStreamManager, StoredMsg } from '@nats-io/jetstream'
import * as v from 'valibot'
import { deadlineMsgId, HEADERS, STREAMS, SUBJECTS } from '../../schemas/subjects.ts'
import { SAGA_CONSUMERS } from '../../shared/nats/saga-consumers.ts'
import { filtersOverlap } from '../../shared/nats/subjects.ts'
import { orderIdOf } from './index-filer.ts'
import type { IndexReader } from './index-query.ts'
import { directBatch } from './index-query.ts'
import { deadLettersOf, retriesOf } from './index-subjects.ts'
import type { ConsumerLag } from './operations.ts'

export const HistoryEntrySchema = v.object({ event: v.string(), status: v.string(), at: v.string() })
/**
 * The order-status record as stored (GET /orders/{orderId} of the intake),
 * fields beyond these kept: what the timeline is built from. Its seal is not
 * checked (the console holds no record key).
 */
export const OrderRecordSchema = v.looseObject({
  orderId: v.string(),
  status: v.string(),
  history: v.array(HistoryEntrySchema),
  deadlineAt: v.exactOptional(v.string()),
})

export interface OrderRecord {
  orderId: string
  status: string
  history: { event: string; status: string; at: string }[]
  deadlineAt?: string
  [field: string]: unknown
}

export interface ConsumerStep {
  consumer: string
  /** `acked`, `delivered` (in flight, or acked out of order), `waiting`, or `dead_lettered`. */
  state: 'acked' | 'delivered' | 'waiting' | 'dead_lettered'
  /** Deliveries known: failed ones (naks) plus the last; null when not delivered yet. */
  deliveries: number | null
  /** Each failed delivery, from nats-server's nak advisories. */
  retries: { deliveries: number; at: string }[]
}

export interface TimelineEvent {
  event: string
  status: string
  /** When it happened (the event's `occurredAt`). */
  at: string
  /** The message in ORDERS; null when it could not be found (expired, or far from its time). */
  message: {
    seq: number
    subject: string
    storedAt: string
    publisher: string | null
    msgId: string | null
    /** Published by nats-server when a schedule (an order deadline) was due. */
    scheduled: boolean
    payload: Record<string, unknown>
  } | null
  consumers: ConsumerStep[]
  /** Undoes an earlier step: stock released or returned, money refunded, the order cancelled after a hold. */
  compensation: boolean
}

export interface DeadLetterRef {
  id: number
  subject: string
  consumer: string
  deliveries: number | null
  reason: string
  sequence: number | null
  time: string
  /** Still in the DLQ (false once replayed and purged, or purged). */
  present: boolean
}

export interface Timeline {
  events: TimelineEvent[]
  deadLetters: DeadLetterRef[]
  /** Direct gets it took. */
  reads: number
}

const COMPENSATING = new Set(['inventory.released', 'payments.refunded', 'orders.cancelled'])
/** An event is stored a few ms after its time on its producer's clock: read from this long before it first. */
const NEAR_MS = 100
/** Then, not found so, from this long before it (nats-server's clock behind the producer's). */
const SKEW_MS = 1_000
/** Read up to this long after its time (stored late: a publish retried through an outage). */
const WINDOW_MS = 10_000
/** Messages of the subject looked at, at most, in each of the two reads. */
const MAX_READ = 2_048

export async function buildTimeline(
  { jsm, index, timeoutMs }: { jsm: JetStreamManager; index: IndexReader; timeoutMs: number },
  record: OrderRecord,
  lags: readonly ConsumerLag[],
): Promise<Timeline> {
  let reads = 0
  const [retryMsgs, deadMsgs] = await Promise.all([
    index.lastOfEach([retriesOf(record.orderId)], 1_000),
    index.lastOfEach([deadLettersOf(record.orderId)], 1_000),
  ])
  const deadLetters = await Promise.all(deadMsgs.map(toDeadLetter))
  const retries = retryMsgs.map((m) => {
    const [, , , consumer = '', seq = '0'] = m.subject.split('.')
    const body = json(m.data)
    return {
      consumer,
      seq: Number(seq),
      deliveries: Number(body['deliveries']) || 0,
      at: text(body['at']),
    }
  })

  /**
   * The event of `subject` the saga acted on. During an `orders.created`
   * migration window an order has two: a copy for readers of the earlier
   * version (`Event-Twin-Version`), held and then skipped by this release's
   * consumers, and the event itself, stored next; the copy is shown only when
   * its twin is not found.
   */
  async function find(subject: string, at: string): Promise<StoredMsg | null> {
    const time = Date.parse(at)
    if (!Number.isFinite(time)) return null
    return (
      (await scan(subject, time - NEAR_MS, time + WINDOW_MS)) ??
      (await scan(subject, time - SKEW_MS, time + NEAR_MS))
    )
  }

  /** The order's message of `subject` (or its lane's) stored between `from` and `until`. */
  async function scan(subject: string, from: number, until: number): Promise<StoredMsg | null> {
    let copy: StoredMsg | null = null
    // The plain subject, then its lanes (`<subject>.express`).
    for (const filter of [subject, `${subject}.>`]) {
      let seq: number | undefined
      for (let read = 0; read < MAX_READ;) {
        const opts = { next_by_subj: filter, batch: 64 }
        const batch = await directBatch(
          () =>
            jsm.direct.getBatch(
              STREAMS.orders.name,
              seq === undefined ? { ...opts, start_time: new Date(from) } : { ...opts, seq },
            ),
          timeoutMs,
        )
        reads++
        read += batch.length
        for (const m of batch) {
          if (m.time.getTime() > until) break
          if (orderIdOf(m.header, m.data) !== record.orderId) continue
          if (!m.header.has(HEADERS.twinVersion)) return m
          copy ??= m
        }
        const last = batch.at(-1)
        if (last === undefined || last.pending === 0 || last.time.getTime() > until) break
        seq = last.seq + 1
      }
    }
    return copy
  }

  async function toDeadLetter(m: StoredMsg): Promise<DeadLetterRef> {
    const body = json(m.data)
    const id = Number(m.subject.split('.').at(-1))
    const present = await jsm.streams.getMessage(STREAMS.deadLetters.name, { seq: id }).then(
      (s) => s !== null,
      () => false,
    )
    return {
      id,
      subject: text(body['subject']),
      consumer: text(body['consumer']),
      deliveries: typeof body['deliveries'] === 'number' ? body['deliveries'] : null,
      reason: text(body['reason']),
      sequence: typeof body['sequence'] === 'number' ? body['sequence'] : null,
      time: text(body['time']),
      present,
    }
  }

  const events = await Promise.all(
    record.history.map(async (h): Promise<TimelineEvent> => {
      // A deadline's cancellation request carries the deadline as its time.
      const m = await find(h.event, h.at)
      const consumers = m === null ? [] : stepsOf(m, lags, retries, deadLetters)
      return {
        event: h.event,
        status: h.status,
        at: h.at,
        message: m === null ? null : toMessage(m),
        consumers,
        compensation: COMPENSATING.has(h.event),
      }
    }),
  )
  return { events, deadLetters, reads }
}

function toMessage(m: StoredMsg): NonNullable<TimelineEvent['message']> {
  const { sealedPaymentToken: _sealed, ...payload } = json(m.data)
  return {
    seq: m.seq,
    subject: m.subject,
    storedAt: m.time.toISOString(),
    publisher: m.header.get('ce-source') || null,
    msgId: m.header.get('Nats-Msg-Id') || null,
    scheduled: isFiredDeadline(m),
    payload,
  }
}

/**
 * An order's deadline, fired by nats-server's schedule: relayed into ORDERS
 * by the inventory worker under the message id `deadline:<orderId>`
 * (money.md); before the relay, stored by nats-server itself, with
 * Nats-Scheduler and no message id (events that purge a schedule carry both).
 */
function isFiredDeadline(m: StoredMsg): boolean {
  const msgId = m.header.get('Nats-Msg-Id')
  if (msgId === '') return m.header.has('Nats-Scheduler')
  return (
    m.subject.startsWith(SUBJECTS.orderCancelRequested) &&
    msgId === deadlineMsgId(orderIdOf(m.header, m.data) ?? '')
  )
}

/** The consumers that take the message, and how far each got with it. */
function stepsOf(
  m: StoredMsg,
  lags: readonly ConsumerLag[],
  retries: readonly { consumer: string; seq: number; deliveries: number; at: string }[],
  deadLetters: readonly DeadLetterRef[],
): ConsumerStep[] {
  return Object.entries(SAGA_CONSUMERS)
    .filter(([, spec]) => {
      const filters: readonly string[] = spec.filters
      return filters.length === 0 || filters.some((f) => filtersOverlap(f, m.subject))
    })
    .map(([consumer]) => {
      const lag = lags.find((l) => l.stream === STREAMS.orders.name && l.name === consumer)
      const failed = retries
        .filter((r) => r.consumer === consumer && r.seq === m.seq)
        .map((r) => ({ deliveries: r.deliveries, at: r.at }))
      const dead = deadLetters.find((d) => d.consumer === consumer && d.sequence === m.seq)
      const state: ConsumerStep['state'] =
        dead !== undefined
          ? 'dead_lettered'
          : lag === undefined || m.seq > lag.delivered
            ? 'waiting'
            : m.seq <= lag.ackFloor
              ? 'acked'
              : 'delivered'
      const lastFailed = Math.max(0, ...failed.map((f) => f.deliveries))
      const deliveries =
        dead !== undefined
          ? dead.deliveries
          : state === 'waiting'
            ? null
            : lastFailed + (state === 'acked' ? 1 : 0) || 1
      return { consumer, state, deliveries, retries: failed }
    })
}

const text = (value: unknown): string => (typeof value === 'string' ? value : '')

function json(data: Uint8Array): Record<string, unknown> {
  try {
    const value = JSON.parse(new TextDecoder().decode(data)) as unknown
    return value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}
