/*
 * What the console shows about the running saga besides orders: each
 * consumer's lag, the payment circuit breaker (from the payment service's
 * /metrics) and the stock of every sku (the stock bucket, read with one
 * ordered consumer).
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import { BUCKETS, STREAMS } from '../../schemas/subjects.ts'
import { ORDER_INDEX_CONSUMERS } from '../../shared/nats/order-index.ts'

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
  /** Consumers the payment worker has paused (while the breaker is open). */
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

interface StockRecord {
  onHand?: unknown
  priceCents?: unknown
  sold?: unknown
  holds?: Record<string, { quantity?: unknown }>
}

const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0)

export function toStockLevel(sku: string, record: StockRecord): StockLevel {
  const reserved = Object.values(record.holds ?? {}).reduce((sum, h) => sum + num(h.quantity), 0)
  const onHand = num(record.onHand)
  return {
    sku,
    onHand,
    reserved,
    available: onHand - reserved,
    priceCents: num(record.priceCents),
    sold: num(record.sold),
  }
}

/** Every sku's stock, sorted by sku, up to `limit`: one ordered consumer over the bucket's latest values. */
export async function stockLevels(
  js: JetStreamClient,
  { limit = 5_000, timeoutMs = 5_000 } = {},
): Promise<StockLevel[]> {
  const stream = `KV_${BUCKETS.stock}`
  const prefix = `$KV.${BUCKETS.stock}.`
  const reader = await js.consumers.get(stream, {
    filter_subjects: [`${prefix}>`],
    deliver_policy: DeliverPolicy.LastPerSubject,
  })
  const found: StockLevel[] = []
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
        try {
          found.push(toStockLevel(m.subject.slice(prefix.length), m.json<StockRecord>()))
        } catch {
          // An unreadable record is left out of the list; the inventory service owns it.
        }
        if (m.info.pending === 0) left = 0
        if (left <= 0) break
      }
      if (got === 0) break
    }
  } finally {
    await reader.delete().catch(() => false)
  }
  return found.sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0))
}
