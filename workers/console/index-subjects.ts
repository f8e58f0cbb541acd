/*
 * The order index's subjects (pure). Two messages per order:
 *
 *   oix.o.<status>.<reason>.<yyyymmdd>.<hh>.<mi>.<ss>.<customer>.<orderId>   (rewritten as it changes)
 *   oix.c.<customer>.<yyyymmdd>.<hh>.<mi>.<orderId>                          (written once)
 *
 * nats-server matches a filter against its subject tree: what a count or a
 * read costs grows with the subjects under the filter's leading literal
 * tokens. So the status leads (a search by status reads only that status),
 * the creation time (UTC) follows (a page reads one hour, minute or second of
 * it), and a customer's orders have their own subjects led by the customer.
 * Retries and dead letters are filed under the order:
 * `oix.r.<orderId>.<consumer>.<seq>`, `oix.d.<orderId>.<dlqSeq>`.
 */
import { ORDER_INDEX } from '../../shared/nats/order-index.ts'
import { mintedAt } from '../../schemas/primitives.ts'

const P = ORDER_INDEX.prefix
export const ORDER_STATUSES = ['pending', 'reserved', 'confirmed', 'cancelled'] as const
export type IndexStatus = (typeof ORDER_STATUSES)[number]

/** What one index entry says about an order (its subject and its small body). */
export interface IndexEntry {
  orderId: string
  status: IndexStatus
  /** `-` in the subject when none. */
  reason?: string
  /** `~` in the subject when not known yet. */
  customerId?: string
  /** Creation time, ms since the epoch. */
  createdMs: number
  amountCents?: number
  updatedAt?: string
  /** The order's lane (`express`, `standard`); absent in an entry written by an earlier release. */
  priority?: string
}

/** Slot tokens of a time, coarse to fine: day, hour, minute, second. */
export function slotTokens(ms: number): [string, string, string, string] {
  const iso = new Date(ms).toISOString() // 2026-12-03T18:49:22.071Z
  return [iso.slice(0, 10).replaceAll('-', ''), iso.slice(11, 13), iso.slice(14, 16), iso.slice(17, 19)]
}

/** The day token `days` before the day of `ms`. */
export function dayToken(ms: number, days = 0): string {
  return slotTokens(ms - days * 86_400_000)[0]
}

const SAFE = /^[A-Za-z0-9_-]$/

/** A customer id as one subject token: `[A-Za-z0-9_-]` as is, any other UTF-8 byte as `~XX`. */
export function encodeCustomer(customerId: string | undefined): string {
  if (customerId === undefined || customerId === '') return '~'
  let out = ''
  for (const ch of customerId) {
    if (SAFE.test(ch)) out += ch
    else
      for (const byte of new TextEncoder().encode(ch))
        out += `~${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

export function decodeCustomer(token: string): string | undefined {
  if (token === '~') return undefined
  const bytes: number[] = []
  for (let i = 0; i < token.length;) {
    if (token[i] === '~') {
      bytes.push(Number.parseInt(token.slice(i + 1, i + 3), 16))
      i += 3
    } else {
      bytes.push(token.charCodeAt(i))
      i += 1
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes))
}

export function entrySubject(
  entry: Pick<IndexEntry, 'orderId' | 'status' | 'reason' | 'customerId' | 'createdMs'>,
): string {
  return [
    P,
    'o',
    entry.status,
    entry.reason ?? '-',
    ...slotTokens(entry.createdMs),
    encodeCustomer(entry.customerId),
    entry.orderId,
  ].join('.')
}

/** Every main entry of one order (any status, reason or customer), given its creation time. */
export function orderFilter(orderId: string, createdMs: number): string {
  return [P, 'o', '*', '*', ...slotTokens(createdMs), '*', orderId].join('.')
}

/** The entry that files an order under its customer. */
export function customerSubject(customerId: string, createdMs: number, orderId: string): string {
  const [day, hour, minute] = slotTokens(createdMs)
  return [P, 'c', encodeCustomer(customerId), day, hour, minute, orderId].join('.')
}

/** The customer entry of one order, whoever the customer. */
export function customerEntryFilter(orderId: string, createdMs: number): string {
  const [day, hour, minute] = slotTokens(createdMs)
  return [P, 'c', '*', day, hour, minute, orderId].join('.')
}

/** A customer's orders within `slot` (0 to 3 time tokens: day, hour, minute). */
export function customerFilter(customerId: string, slot: readonly string[]): string {
  return [P, 'c', encodeCustomer(customerId), ...[...slot, '*', '*', '*'].slice(0, 3), '*'].join('.')
}

/** The order id and creation time of a customer entry; null for another subject. */
export function parseCustomerEntry(subject: string): { orderId: string; createdMs: number } | null {
  const t = subject.split('.')
  if (t.length !== 7 || t[0] !== P || t[1] !== 'c') return null
  const orderId = t[6] ?? ''
  return { orderId, createdMs: mintedAt(orderId) ?? slotMs(t.slice(3, 6)) }
}

export interface SearchFilter {
  status?: IndexStatus
  reason?: string
  customerId?: string
}

/** The main entries of a search within `slot` (0 to 4 time tokens, coarse first). */
export function searchFilter(search: SearchFilter, slot: readonly string[]): string {
  return [
    P,
    'o',
    search.status ?? '*',
    search.reason ?? '*',
    ...[...slot, '*', '*', '*', '*'].slice(0, 4),
    search.customerId === undefined ? '*' : encodeCustomer(search.customerId),
    '*',
  ].join('.')
}

/** Reads an entry back from its subject and body; null for a subject that is not an order entry. */
export function parseEntry(subject: string, body: Uint8Array): IndexEntry | null {
  const t = subject.split('.')
  if (t.length !== 10 || t[0] !== P || t[1] !== 'o') return null
  const [, , statusToken = '', reason = '-', , , , , customer = '~', orderId = ''] = t
  const status = ORDER_STATUSES.find((s) => s === statusToken)
  if (status === undefined) return null
  let meta: { t?: unknown; a?: unknown; u?: unknown; p?: unknown } = {}
  try {
    meta = JSON.parse(new TextDecoder().decode(body)) as typeof meta
  } catch {
    // An entry without a readable body still says everything but the amount.
  }
  const customerId = decodeCustomer(customer)
  return {
    orderId,
    status,
    ...(reason === '-' ? {} : { reason }),
    ...(customerId === undefined ? {} : { customerId }),
    createdMs: typeof meta.t === 'number' ? meta.t : slotMs(t.slice(4, 8)),
    ...(typeof meta.a === 'number' ? { amountCents: meta.a } : {}),
    ...(typeof meta.u === 'string' ? { updatedAt: meta.u } : {}),
    ...(typeof meta.p === 'string' ? { priority: meta.p } : {}),
  }
}

/** An entry's body: what the subject does not say. */
export function entryBody(entry: IndexEntry): string {
  return JSON.stringify({ t: entry.createdMs, a: entry.amountCents, u: entry.updatedAt, p: entry.priority })
}

function slotMs([d = '', h = '00', m = '00', s = '00']: readonly string[]): number {
  return Date.parse(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${h}:${m}:${s}Z`)
}

/** Where a page ends: entries strictly older come next (creation time, then order id, both descending). */
export interface Cursor {
  createdMs: number
  orderId: string
}

export function toCursor(c: Cursor): string {
  return `${c.createdMs}_${c.orderId}`
}

export function parseCursor(text: string): Cursor | null {
  const match = /^(\d{1,15})_([0-9a-fA-F-]{36})$/.exec(text)
  return match === null ? null : { createdMs: Number(match[1]), orderId: match[2] ?? '' }
}

/** Newest first: later creation time, then the larger order id. */
export function newerFirst(a: Cursor, b: Cursor): number {
  if (a.createdMs !== b.createdMs) return b.createdMs - a.createdMs
  return a.orderId < b.orderId ? 1 : a.orderId > b.orderId ? -1 : 0
}

/**
 * When an order was created (ms): its id's own time first (it never changes,
 * so neither does its index slot), else its record's `createdAt`.
 */
export function creationMs(orderId: string, createdAt: unknown): number | undefined {
  const created = typeof createdAt === 'string' ? Date.parse(createdAt) : Number.NaN
  return mintedAt(orderId) ?? (Number.isFinite(created) ? created : undefined)
}

export const retrySubject = (orderId: string, consumer: string, streamSeq: number): string =>
  `${P}.r.${orderId}.${consumer}.${streamSeq}`
export const deadLetterSubject = (orderId: string, dlqSeq: number): string => `${P}.d.${orderId}.${dlqSeq}`
export const retriesOf = (orderId: string): string => `${P}.r.${orderId}.>`
export const deadLettersOf = (orderId: string): string => `${P}.d.${orderId}.>`
