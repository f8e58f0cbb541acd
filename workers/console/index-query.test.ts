import { JetStreamError, type StoredMsg } from '@nats-io/jetstream'
import { TimeoutError } from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import { directBatch, searchOrders, type IndexReader } from './index-query.ts'
import {
  customerSubject,
  entryBody,
  entrySubject,
  parseCursor,
  type Cursor,
  type IndexEntry,
} from './index-subjects.ts'

/** NATS subject matching: `*` one token, `>` the rest. */
function matches(filter: string, subject: string): boolean {
  const f = filter.split('.')
  const s = subject.split('.')
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false
  }
  return f.length === s.length
}

/** The index in memory, in stream order. */
function memoryReader(entries: readonly IndexEntry[]): IndexReader {
  const stored = entries.map((e, i) => ({
    seq: i + 1,
    subject: entrySubject(e),
    data: new TextEncoder().encode(entryBody(e)),
  }))
  const select = (filter: string, max: number) =>
    stored.filter((m) => matches(filter, m.subject)).slice(0, max) as unknown as StoredMsg[]
  return {
    count: (filter) => Promise.resolve(stored.filter((m) => matches(filter, m.subject)).length),
    list: (filter, max) => Promise.resolve(select(filter, max)),
    lastOfEach: (filters, max) => {
      const last = new Map<string, (typeof stored)[number]>()
      for (const m of stored) if (filters.some((f) => matches(f, m.subject))) last.set(m.subject, m)
      return Promise.resolve([...last.values()].slice(0, max) as unknown as StoredMsg[])
    },
  }
}

/** The index with each order also filed under its customer (once, as the writer files it). */
function memoryReaderWithCustomers(entries: readonly IndexEntry[]): IndexReader {
  const mains = memoryReader(entries)
  const customers = [
    ...new Map(
      entries.map((e) => [e.orderId, customerSubject(e.customerId ?? '', e.createdMs, e.orderId)]),
    ).values(),
  ].map((subject, i) => ({ seq: 1_000 + i, subject, data: new Uint8Array() }))
  const select = (filter: string, max: number) =>
    customers.filter((m) => matches(filter, m.subject)).slice(0, max) as unknown as StoredMsg[]
  const isCustomer = (filter: string) => filter.split('.')[1] === 'c'
  return {
    count: (filter) =>
      isCustomer(filter)
        ? Promise.resolve(customers.filter((m) => matches(filter, m.subject)).length)
        : mains.count(filter),
    list: (filter, max) =>
      isCustomer(filter) ? Promise.resolve(select(filter, max)) : mains.list(filter, max),
    lastOfEach: (filters, max) =>
      filters.every(isCustomer)
        ? Promise.resolve(filters.flatMap((f) => select(f, max)).slice(0, max))
        : mains.lastOfEach(filters, max),
  }
}

const NOW = Date.parse('2026-12-05T01:00:00Z')
/** A UUIDv7 minted at `ms`, as the intake mints order ids (the index reads the time back from it). */
const uuidAt = (ms: number, n: number): string => {
  const hex = ms.toString(16).padStart(12, '0')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-00000000000${n}`
}
const order = (n: number, status: IndexEntry['status'], updatedAt: string): IndexEntry => {
  const createdMs = NOW - 60_000 + n * 1_000
  return { orderId: uuidAt(createdMs, n), status, customerId: 'alice', createdMs, updatedAt }
}

describe('the order index search', () => {
  it('lists an order once while its new entry is written and the old one not purged yet: the latest', async () => {
    const reader = memoryReader([
      order(1, 'pending', '2026-12-05T00:59:01Z'),
      order(2, 'pending', '2026-12-05T00:59:02Z'),
      order(1, 'confirmed', '2026-12-05T00:59:03Z'),
      order(3, 'reserved', '2026-12-05T00:59:04Z'),
    ])
    const page = await searchOrders(reader, { search: {}, limit: 10, nowMs: NOW })
    expect(page.orders.map((o) => [o.orderId.slice(-1), o.status])).toStrictEqual([
      ['3', 'reserved'],
      ['2', 'pending'],
      ['1', 'confirmed'],
    ])
    expect(page.next).toBeNull()
  })

  it("finds a customer's order by its latest entry while the old one is not purged yet", async () => {
    const reader = memoryReaderWithCustomers([
      order(1, 'pending', '2026-12-05T00:59:01Z'),
      order(1, 'confirmed', '2026-12-05T00:59:03Z'),
    ])
    const page = await searchOrders(reader, { search: { customerId: 'alice' }, limit: 10, nowMs: NOW })
    expect(page.orders.map((o) => o.status)).toStrictEqual(['confirmed'])
  })

  it('leaves out of a search by status an entry its order has left, even when the old entry was never purged', async () => {
    // What a purge lost to a nats-server kill -9 leaves: the old entry beside the new one, for good.
    const reader = memoryReader([
      order(1, 'reserved', '2026-12-05T00:59:01Z'),
      order(2, 'reserved', '2026-12-05T00:59:02Z'),
      { ...order(1, 'cancelled', '2026-12-05T00:59:03Z'), reason: 'customer_request' },
    ])
    const reserved = await searchOrders(reader, { search: { status: 'reserved' }, limit: 10, nowMs: NOW })
    expect(reserved.orders.map((o) => [o.orderId.slice(-1), o.status])).toStrictEqual([['2', 'reserved']])
    const cancelled = await searchOrders(reader, {
      search: { status: 'cancelled', reason: 'customer_request' },
      limit: 10,
      nowMs: NOW,
    })
    expect(cancelled.orders.map((o) => [o.orderId.slice(-1), o.status])).toStrictEqual([['1', 'cancelled']])
  })

  it('pages on past a window of stale entries only, to the order still in that status', async () => {
    const reader = memoryReader([
      order(1, 'reserved', '2026-12-05T00:59:01Z'),
      order(2, 'reserved', '2026-12-05T00:59:02Z'),
      order(3, 'reserved', '2026-12-05T00:59:03Z'),
      order(2, 'confirmed', '2026-12-05T00:59:04Z'),
      order(3, 'confirmed', '2026-12-05T00:59:05Z'),
    ])
    const seen: string[] = []
    let before: Cursor | undefined
    for (let page = 0; page < 10; page++) {
      const { orders, next } = await searchOrders(reader, {
        search: { status: 'reserved' },
        limit: 1,
        listLimit: 1,
        nowMs: NOW,
        ...(before === undefined ? {} : { before }),
      })
      seen.push(...orders.map((o) => o.orderId.slice(-1)))
      if (next === null) break
      before = parseCursor(next) ?? undefined
    }
    expect(seen).toStrictEqual(['1'])
  })

  it('splits the check of its rows when nats-server answers that they have too many subjects', async () => {
    const memory = memoryReader([
      order(1, 'reserved', '2026-12-05T00:59:01Z'),
      order(2, 'reserved', '2026-12-05T00:59:02Z'),
      order(2, 'confirmed', '2026-12-05T00:59:04Z'),
      order(3, 'reserved', '2026-12-05T00:59:03Z'),
    ])
    const sizes: number[] = []
    const reader: IndexReader = {
      ...memory,
      lastOfEach: (filters, max) => {
        sizes.push(filters.length)
        if (filters.length > 1)
          return Promise.reject(Object.assign(new Error('too many results'), { code: 413 }))
        return memory.lastOfEach(filters, max)
      },
    }
    const page = await searchOrders(reader, { search: { status: 'reserved' }, limit: 10, nowMs: NOW })
    expect(page.orders.map((o) => o.orderId.slice(-1))).toStrictEqual(['3', '1'])
    expect(sizes.filter((n) => n === 1)).toHaveLength(3)
  })

  it('keeps the cursor when duplicates cut a full page short', async () => {
    const reader = memoryReader([
      order(1, 'pending', '2026-12-05T00:59:01Z'),
      order(2, 'pending', '2026-12-05T00:59:02Z'),
      order(2, 'confirmed', '2026-12-05T00:59:05Z'),
      order(3, 'confirmed', '2026-12-05T00:59:04Z'),
    ])
    const first = await searchOrders(reader, { search: {}, limit: 2, nowMs: NOW })
    expect(first.orders.map((o) => o.orderId.slice(-1))).toStrictEqual(['3', '2'])
    expect(first.next).not.toBeNull()
  })
})

describe('a batched direct get', () => {
  it('gives up at its own deadline, not the 5 s nats.js waits for a batch', async () => {
    const silent: AsyncIterable<StoredMsg> = {
      [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<StoredMsg>>(() => undefined) }),
    }
    const started = Date.now()
    await expect(directBatch(() => Promise.resolve(silent), 100)).rejects.toBeInstanceOf(TimeoutError)
    expect(Date.now() - started).toBeLessThan(1_000)
  })

  it('reads "no message" as an empty batch and passes any other error on', async () => {
    const noMessage = Object.assign(new JetStreamError('no message found'), { code: 404 })
    expect(await directBatch(() => Promise.reject(noMessage), 100)).toStrictEqual([])
    await expect(directBatch(() => Promise.reject(new Error('refused')), 100)).rejects.toThrow('refused')
  })
})
