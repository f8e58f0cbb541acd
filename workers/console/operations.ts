/*
 * What the console shows about the running saga besides orders: each
 * consumer's lag, the payment circuit breaker (from the payment service's
 * /metrics) and the stock of every sku (the stock bucket, read with one
 * ordered consumer).
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import * as v from 'valibot'
import { BUCKETS, STREAMS } from '../../schemas/subjects.ts'
import { ORDER_INDEX_CONSUMERS } from '../../shared/nats/order-index.ts'
import { toStockView } from '../inventory/domain.ts'
import { StockRecordSchema } from '../inventory/records.ts'

export interface ConsumerLag {
  stream: string
  name: string
  /** Messages not delivered yet. */
  pending: number
  /** Delivered, not acknowledged yet. */
  ackPending: number
  redelivered: number
  /** The last stream sequence acknowledged in order. */
  ackFloor: number
  /** The last stream sequence delivered. */
  delivered: number
  lastActive: string | null
}

/** Every consumer of ORDERS (the saga's, both lanes) and DEADLINES (the deadline relay), and the index writer's. */
export async function consumerLags(jsm: JetStreamManager): Promise<ConsumerLag[]> {
  const infos = []
  for (const stream of [STREAMS.orders.name, STREAMS.deadlines.name])
    for await (const info of jsm.consumers.list(stream)) infos.push(info)
  const own = await Promise.all(
    Object.values(ORDER_INDEX_CONSUMERS).map(({ stream, durable }) =>
      jsm.consumers.info(stream, durable).catch(() => null),
    ),
  )
  return [...infos, ...own.filter((i) => i !== null)].map((i) => ({
    stream: i.stream_name,
    name: i.name,
    pending: i.num_pending,
    ackPending: i.num_ack_pending,
    redelivered: i.num_redelivered,
    ackFloor: i.ack_floor.stream_seq,
    delivered: i.delivered.stream_seq,
    // An RFC 3339 time on the wire, whatever the client's type says.
    lastActive:
      typeof (i.delivered.last_active as unknown) === 'string' ? String(i.delivered.last_active) : null,
  }))
}

export const BREAKER_STATES = ['closed', 'open', 'half-open'] as const

export interface BreakerView {
  state: (typeof BREAKER_STATES)[number] | 'unknown'
  /** Consumers the payment worker has paused (while the breaker is open, or at start while the processor does not answer). */
  paused: string[]
  /** Why the state is unknown. */
  error?: string
}

/** Reads `payment_breaker_state` and `consumer_paused` from the payment service's Prometheus text. */
export function parseBreaker(metrics: string): BreakerView {
  let state: BreakerView['state'] = 'unknown'
  const paused: string[] = []
  for (const line of metrics.split('\n')) {
    const breaker = /^payment_breaker_state(?:\{[^}]*\})?\s+(\d+)/.exec(line)
    if (breaker !== null) state = BREAKER_STATES[Number(breaker[1])] ?? 'unknown'
    const pause = /^consumer_paused\{[^}]*consumer="([^"]+)"[^}]*\}\s+1\b/.exec(line)
    if (pause?.[1] !== undefined) paused.push(pause[1])
  }
  return state === 'unknown'
    ? { state, paused, error: 'no payment_breaker_state in the metrics' }
    : { state, paused }
}

export async function breakerState(
  paymentUrl: string,
  { fetchFn = fetch, timeoutMs = 2_000 }: { fetchFn?: typeof fetch; timeoutMs?: number } = {},
): Promise<BreakerView> {
  try {
    const res = await fetchFn(`${paymentUrl}/metrics`, { signal: AbortSignal.timeout(timeoutMs) })
    if (!res.ok) return { state: 'unknown', paused: [], error: `payment /metrics answered ${res.status}` }
    return parseBreaker(await res.text())
  } catch (error) {
    return {
      state: 'unknown',
      paused: [],
      error: `payment /metrics: ${error instanceof Error ? error.message : String(error)}`,
    }
  }
}

export interface StockLevel {
  sku: string
  onHand: number
  reserved: number
  available: number
  priceCents: number
  sold: number
}

/** A sku's stock, or `null` for a record the inventory service would refuse as not valid. */
export function toStockLevel(sku: string, record: unknown): StockLevel | null {
  if (!v.is(StockRecordSchema, record)) return null
  // As GET /inventory/{sku} shows it, under its key, with what was sold.
  return { ...toStockView(record), sku, sold: record.sold }
}

/** Every sku's stock, and the skus whose record is not valid (`invalid_record` at the inventory service). */
export interface StockLevels {
  stock: StockLevel[]
  invalid: string[]
}

/** Every sku's stock, sorted by sku, up to `limit`: one ordered consumer over the bucket's latest values. */
export async function stockLevels(
  js: JetStreamClient,
  { limit = 5_000, timeoutMs = 5_000 } = {},
): Promise<StockLevels> {
  const stream = `KV_${BUCKETS.stock}`
  const prefix = `$KV.${BUCKETS.stock}.`
  const reader = await js.consumers.get(stream, {
    filter_subjects: [`${prefix}>`],
    deliver_policy: DeliverPolicy.LastPerSubject,
  })
  const found: StockLevel[] = []
  const invalid: string[] = []
  try {
    const info = await reader.info(true)
    let left = Math.min(limit, info.num_pending)
    while (left > 0) {
      const batch = await reader.fetch({ max_messages: Math.min(500, left), expires: timeoutMs })
      let got = 0
      for await (const m of batch) {
        got++
        left--
        const op = m.headers?.get('KV-Operation') ?? ''
        if (op === 'DEL' || op === 'PURGE' || m.data.length === 0) continue
        const sku = m.subject.slice(prefix.length)
        let level: StockLevel | null = null
        try {
          level = toStockLevel(sku, m.json<unknown>())
        } catch {
          // Not JSON: not valid either.
        }
        // Listed apart, not as zeros: the inventory service answers 500 invalid_record for it.
        if (level === null) invalid.push(sku)
        else found.push(level)
        if (m.info.pending === 0) left = 0
        if (left <= 0) break
      }
      if (got === 0) break
    }
  } finally {
    await reader.delete().catch(() => false)
  }
  const bySku = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  return { stock: found.sort((a, b) => bySku(a.sku, b.sku)), invalid: invalid.sort(bySku) }
}
