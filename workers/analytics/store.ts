/*
 * The analytics worker's KV records (records.ts): an order's facts, the
 * windows of a generation, and the active generation. Every write is a
 * compare-and-set (shared/nats/record-writer.ts), so two processes never
 * lose each other's update.
 */
import type { JetStreamManager, MsgRequest, NextMsgRequest } from '@nats-io/jetstream'
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
  /** Every window key of a generation, found in the bucket's stream (no consumer needed). */
  /** The window keys of `generation`; `*` for every generation's. */
  windowKeys(generation: string): Promise<string[]>
  readWindow(key: string): Promise<WindowRecord | null>
  removeWindow(key: string): Promise<void>
  readMeta(): Promise<Versioned<Meta> | null>
  /** Makes `meta` the active generation if the stored one is still `expected` (null: none yet). */
  swapMeta(expected: Versioned<Meta> | null, meta: Meta): Promise<boolean>
}

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
      const stream = `KV_${BUCKETS.analyticsWindows}`
      const prefix = `$KV.${BUCKETS.analyticsWindows}.`
      const keys: string[] = []
      for (let seq = 1; ;) {
        // STREAM.MSG.GET takes `next_by_subj` (nats-server 2.9+); nats.js types only seq and last_by_subj.
        const query: NextMsgRequest = { seq, next_by_subj: `${prefix}w.${generation}.>` }
        const msg = await jsm.streams.getMessage(stream, query as unknown as MsgRequest)
        if (msg === null) return keys
        const operation = msg.header?.get('KV-Operation') ?? ''
        const key = msg.subject.slice(prefix.length)
        if (operation === '' && minuteOfKey(key) !== undefined) keys.push(key)
        seq = msg.seq + 1
      }
    },

    readWindow,

    async removeWindow(key) {
      await windows.purge(key)
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
