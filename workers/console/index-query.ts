/*
 * Searches the order index a page at a time, newest first, reading only the
 * entries under narrow subject filters. A batched direct get with a filter
 * returns the matching entries and how many more match (`Nats-Num-Pending`),
 * so a count is one request, and its cost on the server grows with what the
 * filter's leading literal tokens leave (index-subjects.ts). A page walks the
 * hours from the newest, counting each (split into minutes and seconds when
 * an hour holds more than `listLimit`), and reads only the slots it needs;
 * a search whose whole result is small is read at once. A customer's orders
 * come from their own entries, then each row's main entry by its order id.
 */
import { JetStreamError, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream'
import { TimeoutError } from '@nats-io/nats-core'
import { ORDER_INDEX } from '../../shared/nats/order-index.ts'
import { withDeadline } from '../../shared/resilience/deadline.ts'
import {
  customerFilter,
  newerFirst,
  ORDER_STATUSES,
  orderFilter,
  parseCustomerEntry,
  parseEntry,
  searchFilter,
  slotTokens,
  toCursor,
  type Cursor,
  type IndexEntry,
  type SearchFilter,
} from './index-subjects.ts'

export interface IndexReader {
  /** How many messages match `filter`. */
  count(filter: string): Promise<number>
  /** The messages that match `filter`, oldest first, up to `max`. */
  list(filter: string, max: number): Promise<StoredMsg[]>
  /**
   * The last message of every subject that matches one of `filters`, oldest
   * first, in one request: messages spread thinly over the stream (a
   * customer's, an order's) found through the server's subject index instead
   * of read in stream order. At most {@link SPARSE_MAX} subjects.
   */
  lastOfEach(filters: readonly string[], max: number): Promise<StoredMsg[]>
}

/** What nats-server answers a multi-subject last-message get with at most. */
export const SPARSE_MAX = 1_024

/** A direct get that found nothing answers status 404. */
export function isNoMessage(error: unknown): boolean {
  return error instanceof JetStreamError && 'code' in error && error.code === 404
}

/**
 * All of a batched direct get's answers within `timeoutMs`, or TimeoutError
 * (nats.js waits 5 s for a batch whatever the client's request timeout);
 * none found reads as an empty batch.
 */
export async function directBatch(
  read: () => Promise<AsyncIterable<StoredMsg>>,
  timeoutMs: number,
): Promise<StoredMsg[]> {
  const found: StoredMsg[] = []
  const all = (async () => {
    try {
      for await (const m of await read()) found.push(m)
    } catch (error) {
      if (!isNoMessage(error)) throw error
    }
    return found
  })()
  return await withDeadline(all, timeoutMs, () => new TimeoutError())
}

/** Reads a subject-filtered stream with batched direct gets (no consumer is created). */
export function createIndexReader(
  jsm: JetStreamManager,
  { stream = ORDER_INDEX.stream, timeoutMs }: { stream?: string; timeoutMs: number },
): IndexReader {
  const batch = (filter: string, seq: number, size: number): Promise<StoredMsg[]> =>
    directBatch(() => jsm.direct.getBatch(stream, { seq, next_by_subj: filter, batch: size }), timeoutMs)
  return {
    async count(filter) {
      const [first] = await batch(filter, 1, 1)
      return first === undefined ? 0 : first.pending + 1
    },
    async list(filter, max) {
      const found: StoredMsg[] = []
      for (let seq = 1, more = true; more && found.length < max;) {
        const msgs = await batch(filter, seq, Math.min(1_000, max - found.length))
        found.push(...msgs)
        const last = msgs.at(-1)
        more = last !== undefined && last.pending > 0
        seq = (last?.seq ?? 0) + 1
      }
      return found
    },
    lastOfEach,
  }

  async function lastOfEach(filters: readonly string[], max: number): Promise<StoredMsg[]> {
    const found = await directBatch(
      () => jsm.direct.getLastMessagesFor(stream, { multi_last: [...filters], batch: max }),
      timeoutMs,
    )
    return found.sort((a, b) => a.seq - b.seq)
  }
}

export interface SearchOptions {
  search: SearchFilter
  limit: number
  /** Only entries strictly older than this (the previous page's `next`). */
  before?: Cursor
  nowMs?: number
  /** A slot with at most this many matches is read whole; a larger one is split. */
  listLimit?: number
  /** How many days back the walk goes (entries live 30 days). */
  retentionDays?: number
}

export interface SearchPage {
  orders: IndexEntry[]
  /** The cursor of the next page; null on the last. */
  next: string | null
  /** What the page cost: count requests and entries read. */
  reads: { counts: number; entries: number }
}

const PARALLEL = 8
const pad = (n: number): string => String(n).padStart(2, '0')

interface Walk<T extends Cursor> {
  filter: (slot: readonly string[]) => string
  parse: (m: StoredMsg) => T | null
  /** Time tokens the subjects carry: 3 (to the minute) or 4 (to the second). */
  depth: 3 | 4
  /** Entries spread over the stream rather than written together (a customer's). */
  sparse?: boolean
}

export async function searchOrders(reader: IndexReader, options: SearchOptions): Promise<SearchPage> {
  const { search, limit } = options
  const reads = { counts: 0, entries: 0 }
  const read = (msgs: StoredMsg[]): StoredMsg[] => {
    reads.entries += msgs.length
    return msgs
  }
  const counted: IndexReader = {
    count: (f) => {
      reads.counts++
      return reader.count(f)
    },
    list: async (f, max) => read(await reader.list(f, max)),
    lastOfEach: async (f, max) => read(await reader.lastOfEach(f, max)),
  }
  let found: IndexEntry[]
  if (search.customerId === undefined) {
    found = await walkSlots(counted, options, limit + 1, {
      filter: (slot) => searchFilter(search, slot),
      parse: (m) => parseEntry(m.subject, m.data),
      depth: 4,
    })
  } else {
    const { customerId } = search
    const ids = await walkSlots(counted, options, search.status === undefined ? limit + 1 : 5_000, {
      filter: (slot) => customerFilter(customerId, slot),
      parse: (m) => parseCustomerEntry(m.subject),
      depth: 3,
      sparse: true,
    })
    found = await mainEntries(counted, ids, search, limit + 1)
  }
  found.sort(newerFirst)
  let unique = latestPerOrder(found)
  // A search by status or reason reads only that status's entries: an entry
  // an order has left shows unless checked against the order's others.
  if (search.customerId === undefined && (search.status !== undefined || search.reason !== undefined))
    unique = await currentOnly(counted, unique)
  const orders = unique.slice(0, limit)
  // More may follow when the walk filled its `limit + 1`: after the last row
  // shown, or, when duplicates and stale entries cut the page short (even to
  // nothing), after the oldest entry read, since every newer one was read.
  const last = unique.length > limit ? orders.at(-1) : found.length > limit ? found.at(-1) : undefined
  return { orders, next: last === undefined ? null : toCursor(last), reads }
}

/**
 * The entries that are still their order's latest. The writer purges an
 * order's old entry once its new one is stored, but a purge nats-server had
 * not made durable when it was killed (`kill -9`) comes back with its
 * entry, which a search by that status alone would list for good. One
 * request reads the last entry of every subject of these orders.
 */
async function currentOnly(reader: IndexReader, entries: readonly IndexEntry[]): Promise<IndexEntry[]> {
  const current = new Set<string>()
  for (let i = 0; i < entries.length; i += CHECKED_PER_REQUEST)
    for (const e of await latestEntries(reader, entries.slice(i, i + CHECKED_PER_REQUEST)))
      current.add(key(e))
  return entries.filter((e) => current.has(key(e)))
}

const key = (e: IndexEntry): string => `${e.orderId} ${e.status} ${e.reason ?? '-'}`

/**
 * Each order's latest main entry, in one request (the last message of each
 * of its subjects); halved when its subjects are more than nats-server
 * answers at once (status 413: old entries that lost purges left behind).
 */
async function latestEntries(reader: IndexReader, orders: readonly Cursor[]): Promise<IndexEntry[]> {
  if (orders.length === 0) return []
  let msgs: StoredMsg[]
  try {
    msgs = await reader.lastOfEach(
      orders.map((o) => orderFilter(o.orderId, o.createdMs)),
      SPARSE_MAX,
    )
  } catch (error) {
    if (!isTooManyResults(error) || orders.length === 1) throw error
    const half = Math.ceil(orders.length / 2)
    return [
      ...(await latestEntries(reader, orders.slice(0, half))),
      ...(await latestEntries(reader, orders.slice(half))),
    ]
  }
  const all: IndexEntry[] = []
  for (const m of msgs) {
    const e = parseEntry(m.subject, m.data)
    if (e !== null) all.push(e)
  }
  return latestPerOrder(all)
}

/** A multi-subject get that matched more subjects than nats-server answers at once. */
function isTooManyResults(error: unknown): boolean {
  return (
    error instanceof Error &&
    (('code' in error && error.code === 413) || /too many results/i.test(error.message))
  )
}

/** Orders checked per request: each has at most its four statuses' subjects, within SPARSE_MAX. */
const CHECKED_PER_REQUEST = 200

/**
 * An order whose entry is being replaced (its new status written, the old
 * entry not purged yet) shows once, as its latest: the later `updatedAt`,
 * else the later status.
 */
function latestPerOrder(entries: readonly IndexEntry[]): IndexEntry[] {
  const latest = new Map<string, IndexEntry>()
  for (const e of entries) {
    const kept = latest.get(e.orderId)
    if (kept === undefined || isLater(e, kept)) latest.set(e.orderId, e)
  }
  return entries.filter((e) => latest.get(e.orderId) === e)
}

function isLater(a: IndexEntry, b: IndexEntry): boolean {
  if (a.updatedAt !== undefined && b.updatedAt !== undefined && a.updatedAt !== b.updatedAt)
    return a.updatedAt > b.updatedAt
  return ORDER_STATUSES.indexOf(a.status) > ORDER_STATUSES.indexOf(b.status)
}

/** The main entry of each order, newest first, that passes the search, until `want` are found. */
async function mainEntries(
  reader: IndexReader,
  ids: Cursor[],
  search: SearchFilter,
  want: number,
): Promise<IndexEntry[]> {
  ids.sort(newerFirst)
  const found: IndexEntry[] = []
  for (let i = 0; i < ids.length && found.length < want; i += CHECKED_PER_REQUEST) {
    // Two while its entry is being replaced (or after a lost purge): the latest is the current one.
    for (const e of await latestEntries(reader, ids.slice(i, i + CHECKED_PER_REQUEST))) {
      if (search.status !== undefined && e.status !== search.status) continue
      if (search.reason !== undefined && e.reason !== search.reason) continue
      found.push(e)
    }
  }
  return found.sort(newerFirst)
}

/**
 * Entries strictly older than the cursor, newest slots first, until `want`
 * are found (whole slots, so nothing older is missing from what is returned).
 */
async function walkSlots<T extends Cursor>(
  reader: IndexReader,
  { before, nowMs = Date.now(), listLimit = 500, retentionDays = 31 }: SearchOptions,
  want: number,
  walk: Walk<T>,
): Promise<T[]> {
  let found: T[] = []
  const keep = (e: T | null): e is T => e !== null && (before === undefined || newerFirst(before, e) < 0)
  const take = async (slot: readonly string[], n: number): Promise<void> => {
    const filter = walk.filter(slot)
    const sparse = walk.sparse === true && n <= SPARSE_MAX
    for (const m of await (sparse ? reader.lastOfEach([filter], n) : reader.list(filter, n))) {
      const e = walk.parse(m)
      if (keep(e)) found.push(e)
    }
  }
  const startMs = before?.createdMs ?? nowMs
  const start = slotTokens(startMs)

  /** Minutes of an hour, seconds of a minute: newest first, from the cursor's on its path. */
  async function split(prefix: readonly string[]): Promise<void> {
    const onPath = prefix.every((t, i) => t === start[i])
    const top = onPath ? Number(start[prefix.length]) : 59
    const tokens = Array.from({ length: top + 1 }, (_, i) => pad(top - i))
    await slots(tokens.map((t) => [...prefix, t]))
  }

  async function slots(list: readonly (readonly string[])[]): Promise<void> {
    for (let i = 0; i < list.length && found.length < want; i += PARALLEL) {
      const chunk = list.slice(i, i + PARALLEL)
      const counts = await Promise.all(chunk.map((slot) => reader.count(walk.filter(slot))))
      for (let j = 0; j < chunk.length && found.length < want; j++) {
        const n = counts[j] ?? 0
        const slot = chunk[j] ?? []
        if (n === 0) continue
        if (n <= listLimit || slot.length >= walk.depth) await take(slot, n)
        else await split(slot)
      }
    }
  }

  const hourMs = 3_600_000
  const hours = Array.from({ length: (retentionDays + 1) * 24 }, (_, h) =>
    slotTokens(startMs - h * hourMs).slice(0, 2),
  )
  // The newest hours first; if they do not fill the page, a search whose
  // whole result is small is read at once instead of hour by hour.
  await slots(hours.slice(0, PARALLEL))
  if (found.length < want) {
    const total = await reader.count(walk.filter([]))
    if (total <= listLimit) {
      found = []
      await take([], total)
    } else await slots(hours.slice(PARALLEL))
  }
  return found
}
