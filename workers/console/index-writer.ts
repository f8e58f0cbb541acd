/*
 * Keeps the order index (index-subjects.ts) from the order-status bucket: a
 * durable consumer on the bucket's stream sees every record the projection
 * writes. An order's changes are held for `delayMs` and written as one entry
 * (a saga that settles within the delay costs one index write, not one per
 * step); each write purges the order's other entries. Messages are acked
 * only once their entry is stored, so a crash loses nothing: they come back
 * and are written again (a rewrite replaces, one message per subject). After
 * each write the bucket is asked for a newer record, so two consoles pulling
 * from the one consumer still leave each order's newest status.
 */
import type { JsMsg } from '@nats-io/jetstream'
import * as v from 'valibot'
import { mintedAt, OrderIdSchema } from '../../schemas/primitives.ts'
import { BUCKETS } from '../../schemas/subjects.ts'
import {
  ORDER_INDEX,
  ORDER_INDEX_CONSUMERS,
  ensureOrderIndexConsumer,
} from '../../shared/nats/order-index.ts'
import { startPullLoop } from '../../shared/nats/pull-loop.ts'
import type { NatsRuntime } from '../../shared/nats/runtime.ts'
import { isNoMessage } from './index-query.ts'
import {
  creationMs,
  customerEntryFilter,
  customerSubject,
  entryBody,
  entrySubject,
  orderFilter,
  ORDER_STATUSES,
  type IndexEntry,
} from './index-subjects.ts'
import { rememberRecent } from '../../shared/runtime/remember-recent.ts'

/**
 * The fields of an order-status record the index needs (the record has more).
 * The order id and the reason become subject tokens: a UUID, and one token of
 * lower-case words (a reason a later release adds is indexed too).
 */
const IndexedRecord = v.object({
  orderId: OrderIdSchema,
  status: v.picklist(ORDER_STATUSES),
  reason: v.optional(v.pipe(v.string(), v.regex(/^[a-z][a-z0-9_]{0,63}$/, 'must be one lower-case token'))),
  customerId: v.optional(v.string()),
  createdAt: v.optional(v.string()),
  amountCents: v.optional(v.number()),
  updatedAt: v.optional(v.string()),
  priority: v.optional(v.string()),
})

export function toIndexEntry(record: v.InferOutput<typeof IndexedRecord>, fallbackMs: number): IndexEntry {
  return {
    orderId: record.orderId,
    status: record.status,
    ...(record.reason === undefined ? {} : { reason: record.reason }),
    ...(record.customerId === undefined ? {} : { customerId: record.customerId }),
    createdMs: creationMs(record.orderId, record.createdAt) ?? fallbackMs,
    ...(record.amountCents === undefined ? {} : { amountCents: record.amountCents }),
    ...(record.updatedAt === undefined ? {} : { updatedAt: record.updatedAt }),
    ...(record.priority === undefined ? {} : { priority: record.priority }),
  }
}

export interface IndexWriterStats {
  /** Record messages taken from the bucket's stream. */
  records: number
  /** Index entries stored (durable writes). */
  writes: number
  /** Purges of an order's previous entry (durable removals). */
  purges: number
  /** Orders whose changes were all applied by one write. */
  flushes: number
}

export interface IndexWriter {
  stats: () => IndexWriterStats
  /** Orders held, waiting for their delay. */
  held: () => number
  stop: () => Promise<void>
}

interface Written {
  subject: string
  body: string
  /** The customer entry is stored. */
  customer: boolean
}

interface Held {
  msgs: JsMsg[]
  seq: number
  msgTime: number
  record: v.InferOutput<typeof IndexedRecord> | null
  dueAt: number
}

const MAX_HELD = 10_000
const WRITTEN_CACHE = 200_000

export async function startIndexWriter(
  rt: NatsRuntime,
  { delayMs = 250, startedAtMs = Date.now() }: { delayMs?: number; startedAtMs?: number } = {},
): Promise<IndexWriter> {
  const { stream, durable } = ORDER_INDEX_CONSUMERS.records
  const stats: IndexWriterStats = { records: 0, writes: 0, purges: 0, flushes: 0 }
  const held = new Map<string, Held>()
  const flushing = new Map<string, Promise<void>>()
  /** What this writer stored last per order: no rewrite when nothing changed. */
  const written = new Map<string, Written>()
  /** Customer entries this writer did not store (before it started, or forgotten) may exist: look those up. */
  let unknownBefore = startedAtMs
  let heldMsgs = 0
  let wakeFreed: () => void = () => undefined

  const reprovision = () => ensureOrderIndexConsumer(rt.jsm, 'records', rt.limits).then(() => undefined)
  const getConsumer = () => rt.js.consumers.get(stream, durable)
  const consumer = await getConsumer()
  // In the consumer gauges and the services protocol's STATS, as the saga's consumers are.
  rt.gauges.track(durable, stream)

  /** What a record message means for the index: the record, null (deleted), or 'unreadable'. */
  function readRecord(
    orderId: string,
    op: string | undefined,
    body: () => unknown,
  ): Held['record'] | 'unreadable' {
    if (op === 'DEL' || op === 'PURGE') return null
    const parsed = v.safeParse(IndexedRecord, body())
    // A record filed under another order's key is not that order's.
    return parsed.success && parsed.output.orderId === orderId ? parsed.output : 'unreadable'
  }

  function take(msg: JsMsg): void {
    stats.records++
    const orderId = msg.subject.slice(msg.subject.lastIndexOf('.') + 1)
    const record = readRecord(orderId, msg.headers?.get('KV-Operation'), () => safeJson(msg))
    if (record === 'unreadable') {
      rt.logger.warn({ consumer: durable, orderId, seq: msg.seq }, 'unreadable order record; not indexed')
      msg.term('unreadable order record')
      return
    }
    heldMsgs++
    const current = held.get(orderId)
    if (current === undefined) {
      const msgTime = msg.info.timestampNanos / 1e6
      held.set(orderId, { msgs: [msg], seq: msg.seq, msgTime, record, dueAt: Date.now() + delayMs })
    } else {
      current.msgs.push(msg)
      if (msg.seq > current.seq) Object.assign(current, { seq: msg.seq, record })
    }
  }

  /**
   * Writes the order's entry, then asks the bucket whether a newer record was
   * written meanwhile, and if so writes that one too (at most a few times):
   * with a second console pulling from the same consumer, the flush that
   * lands last must not leave an older status in the index. The writer whose
   * write is last checks after it, so the index ends with the newest record.
   */
  async function flush(orderId: string, h: Held): Promise<void> {
    try {
      let current: Pick<Held, 'seq' | 'record' | 'msgTime'> = h
      await write(orderId, current)
      for (let again = 0; again < 3; again++) {
        const newer = await newerRecord(orderId, current.seq)
        if (newer === undefined) break
        current = { ...newer, msgTime: current.msgTime }
        await write(orderId, current)
      }
      stats.flushes++
      for (const m of h.msgs) m.ack()
    } catch (error) {
      rt.logger.warn({ err: error, consumer: durable, orderId }, 'index write failed; will retry')
      for (const m of h.msgs) m.nak(1_000)
    }
  }

  /**
   * The order's record in the bucket, when one newer than `seq` is there and
   * readable. Read from the stream's leader, not by direct get: a replica
   * behind it could answer an older record and hide the newer one.
   */
  async function newerRecord(
    orderId: string,
    seq: number,
  ): Promise<{ seq: number; record: Held['record'] } | undefined> {
    // null: no record under the key (nats.js answers "no message found" so).
    const stored = await rt.jsm.streams.getMessage(stream, {
      last_by_subj: `$KV.${BUCKETS.orderStatus}.${orderId}`,
    })
    if (stored === null || stored.seq <= seq) return undefined
    const record = readRecord(orderId, stored.header.get('KV-Operation'), () => {
      try {
        return stored.json()
      } catch {
        return undefined
      }
    })
    // Unreadable: its own message is termed by whoever takes it; the index keeps what it has.
    return record === 'unreadable' ? undefined : { seq: stored.seq, record }
  }

  async function write(orderId: string, h: Pick<Held, 'seq' | 'record' | 'msgTime'>): Promise<void> {
    const entry = h.record === null ? null : toIndexEntry(h.record, h.msgTime)
    const createdMs = entry?.createdMs ?? mintedAt(orderId) ?? h.msgTime
    const before = written.get(orderId)
    if (entry === null) {
      for (const filter of [orderFilter(orderId, createdMs), customerEntryFilter(orderId, createdMs)]) {
        await rt.jsm.streams.purge(ORDER_INDEX.stream, { filter })
        stats.purges++
      }
      written.delete(orderId)
    } else {
      const unknown = before === undefined && createdMs <= unknownBefore
      const next: Written = {
        subject: entrySubject(entry),
        body: entryBody(entry),
        customer: before?.customer ?? false,
      }
      if (before?.subject !== next.subject || before.body !== next.body) {
        await rt.js.publish(next.subject, next.body, { timeout })
        stats.writes++
        // Every other entry of the order goes, whoever wrote it (this writer's memory is its own).
        await rt.jsm.streams.purge(ORDER_INDEX.stream, { filter: orderFilter(orderId, createdMs), keep: 1 })
        stats.purges++
      }
      if (!next.customer && entry.customerId !== undefined) {
        const subject = customerSubject(entry.customerId, createdMs, orderId)
        // Written once per order; one this writer may not know of is looked up (a read) first.
        if (!unknown || !(await exists(subject))) {
          await rt.js.publish(subject, '', { timeout })
          stats.writes++
        }
        next.customer = true
      }
      remember(orderId, next, createdMs)
    }
  }

  const timeout = rt.config.NATS_REQUEST_TIMEOUT_MS
  const exists = (subject: string): Promise<boolean> =>
    rt.jsm.direct.getMessage(ORDER_INDEX.stream, { last_by_subj: subject }).then(
      (m) => m !== null,
      (error: unknown) => {
        if (isNoMessage(error)) return false
        throw error
      },
    )

  function remember(orderId: string, value: Written, createdMs: number): void {
    const forgotten = rememberRecent(written, orderId, value, WRITTEN_CACHE)
    if (forgotten !== undefined) unknownBefore = Math.max(unknownBefore, mintedAt(forgotten[0]) ?? createdMs)
  }

  const tick = setInterval(
    () => {
      const now = Date.now()
      for (const [orderId, h] of held) {
        if (h.dueAt > now || flushing.has(orderId)) continue
        held.delete(orderId)
        const done = flush(orderId, h).finally(() => {
          flushing.delete(orderId)
          heldMsgs -= h.msgs.length
          wakeFreed()
        })
        flushing.set(orderId, done)
      }
    },
    Math.max(10, Math.floor(delayMs / 4)),
  )

  const loop = startPullLoop({
    name: durable,
    logger: rt.logger,
    consumer,
    getConsumer,
    reprovision,
    expiresMs: 5_000,
    nextBatchSize: async ({ stopped }) => {
      if (heldMsgs >= MAX_HELD) await Promise.race([new Promise<void>((r) => (wakeFreed = r)), stopped])
      return Math.min(1_000, MAX_HELD - heldMsgs)
    },
    onMessage: take,
  })
  rt.logger.info({ stream, consumer: durable, delayMs }, 'order index writer started')

  return {
    stats: () => ({ ...stats }),
    held: () => held.size + flushing.size,
    async stop() {
      await loop.stop()
      clearInterval(tick)
      await Promise.all(flushing.values())
      // Held messages are not acked: redelivered after their ack wait, written then.
      for (const h of held.values()) for (const m of h.msgs) m.nak()
      held.clear()
    },
  }
}

function safeJson(msg: JsMsg): unknown {
  try {
    return msg.json()
  } catch {
    return undefined
  }
}
