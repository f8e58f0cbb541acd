/*
 * Everything the console reads and does, on NATS (and the order and payment
 * services over HTTP): what its routes (app.ts) call. Tests of the routes
 * give a fake of this interface instead.
 */
import { writeTraceHeaders, type TraceContext } from '../../shared/observability/trace-context.ts'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { STREAMS } from '../../schemas/subjects.ts'
import {
  DeadLetterNotReplayableError,
  listDeadLetters,
  purgeDeadLetters,
  showDeadLetter,
  type DeadLetterDetail,
  type DeadLetterSummary,
  type ReplayResult,
} from '../../shared/nats/dead-letter-admin.ts'
import { readJson } from '../../shared/nats/kv-json.ts'
import { replayerOf, requestReplay } from '../../shared/nats/replay-delegate.ts'
import type { SearchInput } from './app-input.ts'
import { createIndexReader, searchOrders } from './index-query.ts'
import type { IndexEntry } from './index-subjects.ts'
import type { LiveOrders } from './live.ts'
import {
  breakerState,
  consumerLags,
  stockLevels,
  type BreakerView,
  type ConsumerLag,
  type StockLevels,
} from './operations.ts'
import { buildTimeline, OrderRecordSchema, type OrderRecord, type Timeline } from './timeline.ts'

export interface ConsoleData {
  searchOrders(input: SearchInput): Promise<{ orders: IndexEntry[]; next: string | null }>
  orderWithTimeline(orderId: string): Promise<{ order: OrderRecord; timeline: Timeline } | null>
  cancelOrder(
    orderId: string,
    authorization: string,
    /** The operator's request: its trace and correlation id go on with the call. */
    from?: { trace?: TraceContext | undefined; correlationId?: string },
  ): Promise<CancelAnswer>
  deadLetters(subject?: string): Promise<DeadLetterSummary[]>
  deadLetter(id: number): Promise<DeadLetterDetail>
  replayDeadLetter(id: number): Promise<ReplayResult>
  /** Removes one dead letter; false when it was not there. */
  removeDeadLetter(id: number): Promise<boolean>
  purgeDeadLetters(subject?: string): Promise<number>
  consumers(): Promise<ConsumerLag[]>
  breaker(): Promise<BreakerView>
  stock(): Promise<StockLevels>
  live: Pick<LiveOrders, 'subscribe'>
}

/** The order service's answer to a cancellation, passed on. */
export interface CancelAnswer {
  status: 200 | 202 | 400 | 401 | 403 | 404 | 429 | 500 | 503
  body: unknown
  /** Its `Retry-After` (a 429's, a 503's), when it sent one. */
  retryAfter?: string
}

export interface NatsConsoleDataDeps {
  js: JetStreamClient
  /** For replays, asked of the service that owns the event. */
  nc: NatsConnection
  jsm: JetStreamManager
  statusKv: KV
  live: LiveOrders
  /** The order service (its cancellation API). */
  orderUrl: string
  /** The payment service (its /metrics has the breaker's state). */
  paymentUrl: string
  timeoutMs: number
  fetchFn?: typeof fetch
}

/** A 500 the order service answered itself: its JSON error body. */
function isOwnFault(body: unknown): boolean {
  const error = (body as { error?: unknown } | null)?.error
  return error === 'invalid_record' || error === 'internal'
}

/**
 * How long the console waits for the order service's cancel, from its
 * NATS_REQUEST_TIMEOUT_MS: that service's own steps (a read of the record,
 * a wait of up to 1 s for a fresh order's, a publish) are each bounded by
 * the same setting; a second more lets its answer (a clear 503 in an
 * outage) arrive before the console gives up.
 */
const cancelDeadlineMs = (timeoutMs: number) => 2 * timeoutMs + 2_000

/** Dead letters listed at most, newest first. */
const DEAD_LETTER_PAGE = 500

export function createNatsConsoleData(deps: NatsConsoleDataDeps): ConsoleData {
  const { js, nc, jsm, statusKv, orderUrl, paymentUrl, timeoutMs, fetchFn = fetch } = deps
  const index = createIndexReader(jsm, { timeoutMs })

  return {
    async searchOrders({ search, limit, before }) {
      const page = await searchOrders(index, { search, limit, ...(before ? { before } : {}) })
      return { orders: page.orders, next: page.next }
    },

    async orderWithTimeline(orderId) {
      const stored = await readJson(statusKv, orderId, OrderRecordSchema)
      if (stored === null) return null
      const order: OrderRecord = stored.value
      const timeline = await buildTimeline({ jsm, index, timeoutMs }, order, await consumerLags(jsm))
      return { order, timeline }
    },

    async cancelOrder(orderId, authorization, from = {}) {
      const headers: Record<string, string> = { Authorization: authorization }
      if (from.trace !== undefined) writeTraceHeaders(from.trace, (name, value) => (headers[name] = value))
      if (from.correlationId !== undefined) headers['X-Correlation-ID'] = from.correlationId
      try {
        const res = await fetchFn(`${orderUrl}/orders/${orderId}/cancel`, {
          method: 'POST',
          headers,
          signal: AbortSignal.timeout(cancelDeadlineMs(timeoutMs)),
        })
        const body: unknown = await res.json().catch(() => ({ error: 'unreadable_answer' }))
        // Its own answers are passed on (a 500 of its own, `invalid_record`
        // or `internal`: retrying will not help); anything else (a proxy's 500
        // or 502, say) is its not answering.
        const known = [200, 202, 400, 401, 403, 404, 429, 500, 503] as const
        const own = res.status !== 500 || isOwnFault(body)
        const status = (own ? known.find((s) => s === res.status) : undefined) ?? 503
        const retryAfter = res.headers.get('Retry-After')
        return { status, body, ...(retryAfter === null ? {} : { retryAfter }) }
      } catch (error) {
        // Refused before it was sent: nothing happened. Timed out or cut off
        // after: the order service may have taken it. Either way a second
        // cancellation is safe, the API is idempotent.
        const { code, cause } = error as { code?: unknown; cause?: { code?: unknown } }
        const refused = code === 'ECONNREFUSED' || cause?.code === 'ECONNREFUSED'
        const message = refused
          ? 'the order service could not be reached; nothing was requested, retry shortly'
          : `the order service did not answer (${error instanceof Error ? error.name : 'error'}); the cancellation may have been requested: read the order, or cancel again (cancelling twice is safe)`
        return { status: 503, body: { error: 'unavailable', message } }
      }
    },

    async deadLetters(subject) {
      const all = await listDeadLetters(js, jsm, {
        limit: 10_000,
        timeoutMs,
        ...(subject === undefined ? {} : { subject }),
      })
      return all.slice(-DEAD_LETTER_PAGE).reverse()
    },
    deadLetter: (id) => showDeadLetter(jsm, id),
    // The event's owner replays it: this identity publishes no event (replay-delegate.ts).
    async replayDeadLetter(id) {
      const owner = replayerOf(await showDeadLetter(jsm, id))
      if (owner === null)
        throw new DeadLetterNotReplayableError(`dead letter ${id} names no event a service replays`)
      return requestReplay(nc, owner, id, timeoutMs)
    },
    async removeDeadLetter(id) {
      // One past the last sequence is a store error, not "not found", from the delete itself: look first.
      const stored = await jsm.streams
        .getMessage(STREAMS.deadLetters.name, { seq: id })
        .catch((error: unknown) => {
          if (error instanceof Error && /no message found|not found/i.test(error.message)) return null
          throw error
        })
      if (stored === null) return false
      return jsm.streams.deleteMessage(STREAMS.deadLetters.name, id, false).catch((error: unknown) => {
        if (error instanceof Error && /no message found|not found/i.test(error.message)) return false
        throw error
      })
    },
    purgeDeadLetters: (subject) =>
      purgeDeadLetters(js, jsm, { ...(subject === undefined ? {} : { subject }), timeoutMs }),

    consumers: () => consumerLags(jsm),
    breaker: () => breakerState(paymentUrl, { fetchFn, timeoutMs }),
    stock: () => stockLevels(js, { timeoutMs }),
    live: deps.live,
  }
}
