/*
 * `analytics --from <time>`: rebuilds every window from the minute of <time>
 * on, from the stream, into a fresh generation, then makes it the active one.
 *
 * 0. A cutoff before what the stream still holds whole (its age or size
 *    limits removed older events) moves forward to the first minute it does
 *    hold whole: the older windows are kept, not rebuilt from a remnant.
 * 1. Read ORDERS by sequence (direct get: no consumer) from the first message
 *    stored at or after `cutoff - margin` (or from where the durable consumer
 *    got to, if it is behind that) up to the stream's last sequence L at the
 *    start. Each event goes through the same rules as the live consumer: its
 *    fact is recorded on the order (idempotent) and its contribution, from
 *    the facts of lower sequences, goes into the new windows when its event
 *    time is at or after the cutoff minute.
 * 2. Copy the active generation's windows before the cutoff into the new one
 *    (their high-water sequences with them), write the rebuilt ones, and swap
 *    the active pointer by compare-and-set.
 * 3. The live consumer then goes on from where it was: every event up to L
 *    that it had not acked is already in the new windows, and a window's
 *    high-water sequence makes it skip it (the consumer delivers one at a time
 *    in stream order); older windows get late events as before.
 * 4. The previous generation's windows are removed, and those of any other
 *    generation (a replay killed before its swap left them).
 *
 * Run it with no other analytics process writing (it runs in the worker's own
 * start, before its consumer starts).
 */
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type StoredMsg,
} from '@nats-io/jetstream'
import { STREAMS } from '../../schemas/subjects.ts'
import { KvRecordError } from '../../shared/nats/kv-json.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import { decodeStored } from './decode.ts'
import { MINUTE_MS, toAnalyticsEvent, toMinute } from './domain.ts'
import type { WindowRecord } from './records.ts'
import type { AnalyticsStore } from './store.ts'
import { addContribution, emptyWindow, minuteOfKey, windowKey } from './windows.ts'

export interface ReplayDeps {
  jsm: JetStreamManager
  store: AnalyticsStore
  logger: Logger
  /** The live durable consumer (its ack floor bounds where the replay starts). */
  durable: string
  /** Read events stored this long before the cutoff minute (clock skew between publishers and the server). */
  marginMs: number
  batchSize?: number
  /** Rebuilt windows held in memory at most (1-20 KB each); the oldest beyond it are written early. */
  maxWindowsInMemory?: number
  now?: () => Date
}

export interface ReplayReport {
  generation: string
  previous: string | null
  /** The minute the windows were rebuilt from: the one asked for, or the first the stream still holds whole. */
  cutoff: string
  /** The minute asked for (`--from`), when the stream no longer held it and older windows were kept instead. */
  requested?: string
  fromSeq: number
  toSeq: number
  events: number
  rebuilt: number
  copied: number
  /** Windows before the cutoff, from the minute asked for on, that failed their check (not copied). */
  dropped: number
  removed: number
}

const ORDERS = STREAMS.orders.name

/** A generation id: time-ordered, unique enough for one swap at a time. */
export function newGeneration(now: Date): string {
  const random = Math.floor(Math.random() * 36 ** 3).toString(36)
  return `g${now.getTime().toString(36)}${random}`
}

export class ReplaySwapError extends Error {
  override readonly name = 'ReplaySwapError'
}

export async function replayWindows(deps: ReplayDeps, from: Date): Promise<ReplayReport> {
  const {
    jsm,
    store,
    logger,
    durable,
    marginMs,
    batchSize = 512,
    maxWindowsInMemory = 2_000,
    now = () => new Date(),
  } = deps
  const active = await store.readMeta()
  const requested = toMinute(from.getTime())
  const { state, created } = await jsm.streams.info(ORDERS)
  const last = state.last_seq
  // Windows the stream can no longer rebuild whole are kept as they are: a
  // replay from before its retention (or its re-creation) would otherwise
  // lose their history.
  const held = active === null ? undefined : firstWholeMinute({ ...state, created }, marginMs, now())
  const cutoff = held !== undefined && held > requested ? held : requested
  if (cutoff !== requested)
    logger.warn(
      { requested: new Date(requested).toISOString(), cutoff: new Date(cutoff).toISOString() },
      'replay: ORDERS does not hold every event before the cutoff; the windows before it are kept as they are',
    )
  const first = await jsm.direct.getMessage(ORDERS, { start_time: new Date(cutoff - marginMs) })
  const ackFloor = await consumerAckFloor(jsm, durable)
  // Never below the first message it holds: a consumer behind what the stream removed since.
  const fromSeq = Math.max(state.first_seq, Math.min(first?.seq ?? last + 1, ackFloor + 1))
  const generation = newGeneration(now())
  logger.info(
    { cutoff: new Date(cutoff).toISOString(), fromSeq, toSeq: last, generation },
    'replay: rebuilding windows',
  )

  // Rebuilt windows wait in memory, about `maxWindowsInMemory` of them: the
  // oldest minutes beyond that are written under the new generation (nobody
  // reads it before the swap) and read back if a late event adds to one.
  const rebuilt = new Map<number, WindowRecord>()
  const written = new Set<number>()
  const windowOf = async (minute: number): Promise<WindowRecord> =>
    rebuilt.get(minute) ??
    (written.has(minute) ? await store.readWindow(windowKey(generation, minute)) : null) ??
    emptyWindow(minute)
  // Written out an eighth at a time: never more than `maxWindowsInMemory` and that eighth held.
  const spillStep = Math.max(1, Math.floor(maxWindowsInMemory / 8))
  const spill = async (keep: number) => {
    if (rebuilt.size <= keep) return
    const oldest = [...rebuilt.keys()].sort((a, b) => a - b).slice(0, rebuilt.size - keep)
    for (const minute of oldest) {
      const window = rebuilt.get(minute)
      if (window === undefined) continue
      await store.putWindow(generation, window)
      written.add(minute)
      rebuilt.delete(minute)
    }
  }
  let events = 0
  await readRange(jsm, fromSeq, last, batchSize, async (batch) => {
    // Recorded all at once: the store runs one order's updates in call order,
    // so each event still sees the facts of its order's earlier events.
    const read = batch.flatMap((msg) => {
      const decoded = decodeStored(msg)
      return decoded.ok ? [{ seq: msg.seq, event: toAnalyticsEvent(decoded.subject, decoded.event) }] : []
    })
    const contributions = await Promise.all(read.map(({ event, seq }) => store.record(event, seq)))
    events += read.length
    // Added in stream order, as the live consumer does.
    for (const [i, contribution] of contributions.entries()) {
      const seq = read[i]?.seq ?? 0
      if (contribution === null || contribution.minute < cutoff) continue
      const window = await windowOf(contribution.minute)
      rebuilt.set(contribution.minute, addContribution(window, contribution, seq) ?? window)
      if (rebuilt.size >= maxWindowsInMemory + spillStep) await spill(maxWindowsInMemory)
    }
  })

  let copied = 0
  let dropped = 0
  const previous = active?.value.generation ?? null
  if (previous !== null) {
    for (const key of await store.windowKeys(previous)) {
      const minute = minuteOfKey(key) ?? cutoff
      if (minute >= cutoff) continue
      let window: WindowRecord | null
      try {
        window = await store.readWindow(key)
      } catch (error) {
        // Before the minute asked for, a window that fails its check stops the
        // replay (start it earlier). From there on it was to be rebuilt, not
        // read: one the stream can no longer rebuild is dropped, not kept.
        if (!(error instanceof KvRecordError) || minute < requested) throw error
        logger.warn(
          { key, err: error },
          'replay: a window ORDERS can no longer rebuild fails its check; dropped',
        )
        dropped++
        continue
      }
      if (window === null) continue
      await store.putWindow(generation, window)
      copied++
    }
  }
  await spill(0)
  const swapped = await store.swapMeta(active, {
    generation,
    since: now().toISOString(),
    replayedFrom: new Date(cutoff).toISOString(),
  })
  if (!swapped)
    throw new ReplaySwapError(
      'the active generation changed during the replay (another analytics process?); nothing was swapped',
    )

  // Every other generation's windows go: the previous one's, and any left by
  // a replay killed before its swap (nothing reads them; the bucket keeps no TTL).
  // Their purge markers expire (PURGE_MARKER_TTL); markers an older release
  // left for good are purged again, with a TTL.
  let removed = 0
  for (const key of await store.staleKeys(generation)) {
    await store.removeWindow(key)
    removed++
  }
  const report: ReplayReport = {
    generation,
    previous,
    cutoff: new Date(cutoff).toISOString(),
    ...(cutoff === requested ? {} : { requested: new Date(requested).toISOString() }),
    fromSeq,
    toSeq: last,
    events,
    rebuilt: written.size,
    copied,
    dropped,
    removed,
  }
  logger.info({ ...report }, 'replay: windows rebuilt and swapped')
  return report
}

/**
 * The first minute whose events the stream still holds every one of. Messages
 * before its first were removed (its age or size limits; first sequence above
 * 1), and an event stored up to `marginMs` before its own time (a publisher's
 * clock ahead) may have gone with them: the minute after the first message's
 * time plus that. A stream that has lost nothing holds every minute from the
 * one it was created in (`created`): windows of earlier minutes come from a
 * stream deleted since (recreated in a maintenance step).
 */
export function firstWholeMinute(
  state: { first_seq: number; first_ts: string; messages: number; created: string },
  marginMs: number,
  now: Date,
): number {
  const created = Date.parse(state.created)
  if (state.first_seq <= 1) return Number.isNaN(created) ? 0 : toMinute(created)
  // Everything it ever held is gone: no minute up to now can be rebuilt.
  const first = state.messages === 0 ? now.getTime() : Date.parse(state.first_ts)
  return toMinute(first + marginMs) + MINUTE_MS
}

export class ReplayIncompleteError extends Error {
  override readonly name = 'ReplayIncompleteError'
}

/**
 * Hands the messages of ORDERS from `fromSeq` to `toSeq` to `onBatch`, in
 * order, a batch at a time. A direct get may be answered by a replica that
 * lags: a batch that comes back empty before `toSeq` is asked again, a few
 * times.
 */
async function readRange(
  jsm: JetStreamManager,
  fromSeq: number,
  toSeq: number,
  batchSize: number,
  onBatch: (batch: StoredMsg[]) => Promise<void>,
): Promise<void> {
  let empty = 0
  for (let seq = fromSeq; seq <= toSeq;) {
    const batch: StoredMsg[] = []
    try {
      for await (const msg of await jsm.direct.getBatch(ORDERS, { seq, batch: batchSize })) {
        if (msg.seq > toSeq) break
        batch.push(msg)
      }
    } catch (error) {
      if (batch.length > 0) throw error
    }
    const lastRead = batch[batch.length - 1]
    if (lastRead !== undefined) {
      empty = 0
      seq = lastRead.seq + 1
      await onBatch(batch)
      continue
    }
    if (++empty > 5)
      throw new ReplayIncompleteError(`ORDERS gave no message from sequence ${seq} to ${toSeq}`)
    await new Promise((resolve) => setTimeout(resolve, 200 * empty))
  }
}

async function consumerAckFloor(jsm: JetStreamManager, durable: string): Promise<number> {
  try {
    return (await jsm.consumers.info(ORDERS, durable)).ack_floor.stream_seq
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound) return 0
    throw error
  }
}
