/*
 * The analytics worker's KV records (records.ts): an order's facts, the
 * windows of a generation, and the active generation. Every write is a
 * compare-and-set (shared/nats/record-writer.ts), so two processes never
 * lose each other's update.
 */
import type { JetStreamManager, MsgRequest, NextMsgRequest, StoredMsg } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import { BUCKETS } from '../../schemas/subjects.ts'
import { isRevisionConflict, readJson, type Versioned } from '../../shared/nats/kv-json.ts'
import { createRecordWriter } from '../../shared/nats/record-writer.ts'
import { contributionOf, factsBefore, recordFact, type AnalyticsEvent, type Contribution } from './domain.ts'
import { MetaSchema, OrderFactsSchema, WindowSchema, type Meta, type WindowRecord } from './records.ts'
import { addContribution, emptyWindow, minuteOfKey, windowKey } from './windows.ts'

const encoder = new TextEncoder()
const META_KEY = 'active'

export interface AnalyticsStore {
  /**
   * Records the event's fact on its order and returns the event's
   * contribution, computed from the facts of lower stream sequences: the
   * same on every delivery of the event.
   */
  record(event: AnalyticsEvent, seq: number): Promise<Contribution | null>
  /** Adds the contribution to its window; null when the window already holds `seq`. */
  apply(generation: string, contribution: Contribution, seq: number): Promise<WindowRecord | null>
  /** The windows of [fromMinute, toMinute) that exist, in order. */
  readWindows(generation: string, fromMinute: number, toMinute: number): Promise<WindowRecord[]>
  /** Writes a window as it is (a generation nobody reads or writes yet: a replay's). */
  putWindow(generation: string, window: WindowRecord): Promise<void>
  /** The window keys of `generation`; `*` for every generation's. Found in the bucket's stream (no consumer needed). */
  windowKeys(generation: string): Promise<string[]>
  /**
   * The keys to remove when `keep` is the only generation left: the other
   * generations' windows, and purge markers a release before
   * {@link PURGE_MARKER_TTL} left without a TTL (once the bucket takes TTLs).
   */
  staleKeys(keep: string): Promise<string[]>
  readWindow(key: string): Promise<WindowRecord | null>
  /** Purges a window whose key is never written again; its marker expires after {@link PURGE_MARKER_TTL} (once the bucket takes TTLs). */
  removeWindow(key: string): Promise<void>
  readMeta(): Promise<Versioned<Meta> | null>
  /** Makes `meta` the active generation if the stored one is still `expected` (null: none yet). */
  swapMeta(expected: Versioned<Meta> | null, meta: Meta): Promise<boolean>
}

/**
 * How long a removed window's purge marker stays (`Nats-TTL`; the bucket has
 * `allow_msg_ttl`). Without one, each replay would leave a marker per window
 * for good, and every later replay would read them all.
 */
export const PURGE_MARKER_TTL = '1m'

/** Reads of a range go out this many at a time. */
const READ_CONCURRENCY = 16

export function createAnalyticsStore({
  orders,
  windows,
  jsm,
}: {
  orders: KV
  windows: KV
  jsm: JetStreamManager
}): AnalyticsStore {
  const facts = createRecordWriter(orders, OrderFactsSchema)
  const windowWriter = createRecordWriter(windows, WindowSchema, { cacheSize: 1_000 })

  const readWindow = async (key: string) => (await readJson(windows, key, WindowSchema))?.value ?? null
  // Whether the bucket takes per-message TTLs: the provision step turns them
  // on; until it has run (a worker of this release started before it), the
  // markers are written without one, as before.
  let ttlAllowed: Promise<boolean> | undefined
  const markerTtl = (): Promise<boolean> =>
    (ttlAllowed ??= jsm.streams.info(`KV_${BUCKETS.analyticsWindows}`).then(
      (info) => info.config.allow_msg_ttl === true,
      (error: unknown) => {
        // Asked again next time: a failed read is not an answer.
        ttlAllowed = undefined
        throw error
      },
    ))
  /** Every message of the generation's window keys (`*`: all), in stream order, one read each. */
  const scanWindows = async (generation: string, visit: (key: string, msg: StoredMsg) => void) => {
    const stream = `KV_${BUCKETS.analyticsWindows}`
    const prefix = `$KV.${BUCKETS.analyticsWindows}.`
    for (let seq = 1; ;) {
      // STREAM.MSG.GET takes `next_by_subj` (nats-server 2.9+); nats.js types only seq and last_by_subj.
      const query: NextMsgRequest = { seq, next_by_subj: `${prefix}w.${generation}.>` }
      const msg = await jsm.streams.getMessage(stream, query as unknown as MsgRequest)
      if (msg === null) return
      visit(msg.subject.slice(prefix.length), msg)
      seq = msg.seq + 1
    }
  }

  return {
    record: (event, seq) =>
      facts.update(
        event.orderId,
        (current) => {
          const contribution = contributionOf(factsBefore(current, event.orderId, seq), event)
          const next = recordFact(current, event, seq)
          return next === null ? { result: contribution } : { value: next, result: contribution }
        },
        { assumeAbsent: event.kind === 'created' },
      ),

    apply: (generation, contribution, seq) =>
      windowWriter.update(windowKey(generation, contribution.minute), (current) => {
        const next = addContribution(current ?? emptyWindow(contribution.minute), contribution, seq)
        return next === null ? { result: null } : { value: next, result: next }
      }),

    async readWindows(generation, fromMinute, toMinute) {
      const keys: string[] = []
      for (let m = fromMinute; m < toMinute; m += 60_000) keys.push(windowKey(generation, m))
      const found: (WindowRecord | null)[] = new Array<WindowRecord | null>(keys.length).fill(null)
      let next = 0
      const worker = async () => {
        for (let i = next++; i < keys.length; i = next++) found[i] = await readWindow(keys[i] ?? '')
      }
      await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, keys.length) }, worker))
      return found.filter((w): w is WindowRecord => w !== null)
    },

    async putWindow(generation, window) {
      await windows.put(windowKey(generation, window.minute), encoder.encode(JSON.stringify(window)))
    },

    async windowKeys(generation) {
      const keys: string[] = []
      await scanWindows(generation, (key, msg) => {
        if ((msg.header?.get('KV-Operation') ?? '') === '' && minuteOfKey(key) !== undefined) keys.push(key)
      })
      return keys
    },

    async staleKeys(keep) {
      const keys: string[] = []
      const ttl = await markerTtl()
      await scanWindows('*', (key, msg) => {
        if (key.startsWith(`w.${keep}.`)) return
        const operation = msg.header?.get('KV-Operation') ?? ''
        // history 1: a key's one message is its window, or the marker that removed it.
        if (
          operation === ''
            ? minuteOfKey(key) !== undefined
            : ttl && (msg.header?.get('Nats-TTL') ?? '') === ''
        )
          keys.push(key)
      })
      return keys
    },

    readWindow,

    async removeWindow(key) {
      await windows.purge(key, (await markerTtl()) ? { ttl: PURGE_MARKER_TTL } : {})
    },

    readMeta: () => readJson(windows, META_KEY, MetaSchema),

    async swapMeta(expected, meta) {
      const data = encoder.encode(JSON.stringify(meta))
      try {
        if (expected === null) await windows.create(META_KEY, data)
        else await windows.update(META_KEY, data, expected.revision)
        return true
      } catch (error) {
        if (isRevisionConflict(error)) return false
        throw error
      }
    },
  }
}
