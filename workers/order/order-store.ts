/*
 * The order service's port to NATS: place an order (publish `orders.created`
 * once, idempotently), ask for its cancellation, and read its status. Web-standard APIs only, so the
 * same code runs on Bun, Node, Deno and Workers.
 */
import type { JetStreamClient } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { v7 as uuidv7 } from 'uuid'
import * as v from 'valibot'
import {
  downcastOrderCreated,
  OrderCreatedV1,
  OrderCreatedV2,
  upcastOrderCreated,
  type OrderCancelRequested,
  type OrderCreated,
} from '../../schemas/events.ts'
import type { CreateOrderRequest } from '../../schemas/order-request.ts'
import { OrderStatusV1, type OrderStatus, type OrderStatusValue } from '../../schemas/order-status.ts'
import { HEADERS, SUBJECTS, type Priority } from '../../schemas/subjects.ts'
import type { LaneSignals } from '../../shared/nats/lane-signals.ts'
import { isOutcomeUnknown } from '../../shared/nats/outcome.ts'
import { isRevisionConflict, KvRecordError, readJson } from '../../shared/nats/kv-json.ts'
import { publishEvent, toEvent, type OutgoingEvent } from '../../shared/nats/publish.ts'
import { publishAtomically } from '../../shared/nats/publish-batch.ts'
import { EVENT_SOURCES } from '../../shared/nats/cloudevents.ts'
import type { OrderCreatedVersion } from '../../shared/config/order-versions.ts'
import type { IntakeMetrics } from '../../shared/observability/metrics-port.ts'
import type { TraceContext } from '../../shared/observability/trace-context.ts'
import {
  createRequestFingerprinter,
  sha256Hex,
  type RequestFingerprinter,
} from '../../shared/security/request-fingerprint.ts'
import type { TokenSealer } from '../../shared/security/sealed-token.ts'
import { withDeadline } from '../../shared/resilience/deadline.ts'
import { canonicalJson, toOrderCreated } from './domain.ts'
import { mintedAt } from '../../schemas/primitives.ts'
import type { RecentOrder, RecentOrders } from './recent-orders.ts'

/** NATS cannot take the order now; the client should retry (HTTP 503). */
export class UnavailableError extends Error {
  override readonly name = 'UnavailableError'
  /**
   * The order whose `orders.created` was being published when NATS stopped
   * answering: it may still be stored (the 503 is ambiguous). Unset when no
   * publish had started.
   */
  orderId?: string
}

/** What `place` is doing, shared with the request that waits for it. */
interface Publishing {
  /** The order whose `orders.created` is being published. */
  orderId?: string
  /** The request gave up (503): an event not yet sent stays unsent. */
  abandoned: boolean
}

/** Records the order about to be published, unless its request already gave up. */
function startPublishing(publishing: Publishing, orderId: string): void {
  if (publishing.abandoned) throw new UnavailableError('the request gave up before the order was published')
  publishing.orderId = orderId
}

export type PlaceOrderResult =
  | {
      kind: 'accepted'
      orderId: string
      correlationId: string
      replayed: boolean
      /** `pending` for a new order; for a replay, where the order has got to (the projection's view). */
      status: OrderStatusValue
    }
  | { kind: 'idempotency_key_reused' }

export interface PlaceOrderInput {
  request: CreateOrderRequest
  /**
   * What an Idempotency-Key is compared on: the body as its version parsed
   * it (default: `request`). A version 1 body keeps the fingerprint it had
   * before version 2 existed, so a retry across the upgrade still matches.
   */
  fingerprintOf?: unknown
  /**
   * What the release before keyed digests hashed for the same request (the
   * body with the priority as sent), compared only with such a digest.
   */
  fingerprintBefore?: unknown
  correlationId: string
  /** Scoped to `owner`: two keys using the same Idempotency-Key place two orders. */
  idempotencyKey?: string
  /** Id of the API key placing the order; recorded in the event. */
  owner?: string
  /** The request's span: `orders.created` carries it as `traceparent`. */
  trace?: TraceContext | undefined
}

export interface CancelOrderInput {
  orderId: string
  correlationId: string
  /** The API key that asks. */
  requestedBy: string
  /** The request's span, carried by `orders.cancel_requested`. */
  trace?: TraceContext | undefined
  /** The order's lane (its record's `priority`): an express order's request goes on `orders.cancel_requested.express`. */
  priority?: Priority | undefined
}

export interface OrderStore {
  placeOrder(input: PlaceOrderInput): Promise<PlaceOrderResult>
  /**
   * The order's record, or null. A record `visible` refuses (another
   * client's order) is waited for and answered exactly as one that is absent,
   * so the answer's timing does not tell that the order exists.
   */
  getOrder(orderId: string, visible?: (order: OrderStatus) => boolean): Promise<OrderStatus | null>
  /**
   * Publishes a customer's cancellation request. Idempotent: one message id
   * per order, so asking again within the duplicate window stores nothing
   * new, and past it the workers' decisions make it a no-op.
   */
  requestCancellation(input: CancelOrderInput): Promise<void>
  /**
   * An order this instance published in the last {@link FRESH_ORDER_MS},
   * known here before the projection shows it (recent-orders.ts).
   */
  recentlyPublished?(orderId: string): RecentOrder | undefined
}

const IdempotencyRecordV1 = v.object({
  fingerprint: v.string(),
  orderId: v.string(),
  correlationId: v.string(),
  /** The order, in records written before version 2 existed. */
  event: v.optional(OrderCreatedV1),
  /** The order (version 2: every version is derived from it). */
  created: v.optional(OrderCreatedV2),
})
type IdempotencyRecord = v.InferOutput<typeof IdempotencyRecordV1>

export interface NatsOrderStoreDeps {
  js: JetStreamClient
  /** For the atomic batch of a migration window's two versions. */
  nc: NatsConnection
  statusKv: KV
  idempotencyKv: KV
  isConnected: () => boolean
  metrics: Pick<IntakeMetrics, 'eventsPublished' | 'eventsPublishFailed'>
  /** Seals the card token for the payment service: no event or record holds it in clear. */
  sealer: TokenSealer
  /**
   * Digests the request for its idempotency record, keyed so a reader of the
   * bucket cannot test guesses of the card token (default: unkeyed SHA-256).
   */
  fingerprinter?: RequestFingerprinter
  /**
   * The versions of `orders.created` published (ORDER_CREATED_VERSIONS):
   * `[1, 2]` during a migration (one atomic batch, the version 1 copy
   * marked as having a version 2 twin), then `[2]` (the default).
   */
  versions?: readonly OrderCreatedVersion[]
  /** Deadline for everything one request asks of NATS. */
  timeoutMs: number
  /**
   * How long `getOrder` waits for the projection to show an order whose id was
   * minted in the last {@link FRESH_ORDER_MS} (read-your-writes right after a
   * 202); 0 answers from the projection at once.
   */
  statusWaitMs?: number
  /** Announces an express order before its first event, so the workers hold their standard work for it (lane-signals.ts). */
  laneSignals?: Pick<LaneSignals, 'open'>
  /**
   * Remembers the orders this store publishes (recent-orders.ts), for an
   * intake that serves many requests; none at the edge (a store per request).
   */
  recent?: RecentOrders
  /** Order ids: UUIDv7, so an id tells when it was minted. */
  newId?: () => string
  now?: () => Date
}

/** An unknown order id minted longer ago than this is not waited for. */
export const FRESH_ORDER_MS = 60_000
/** How far ahead of this one another intake's clock may run: an id minted further ahead is not waited for. */
export const CLOCK_SKEW_MS = 5_000
/** Projection polls while waiting: first gap, doubling up to the last. */
const STATUS_POLL_MS = [5, 10, 20, 40, 80, 100] as const

const encoder = new TextEncoder()

export function createNatsOrderStore(deps: NatsOrderStoreDeps): OrderStore {
  const { js, nc, statusKv, idempotencyKv, isConnected, metrics, sealer, timeoutMs } = deps
  const newId = deps.newId ?? (() => uuidv7())
  const now = deps.now ?? (() => new Date())
  const statusWaitMs = deps.statusWaitMs ?? 0
  const fingerprinter = deps.fingerprinter ?? createRequestFingerprinter(undefined)

  const versions = deps.versions ?? [2]
  const { recent } = deps

  /** The order in each version published; version 1 keeps its message id from before version 2. */
  async function publishCreated(
    event: OrderCreated,
    correlationId: string,
    trace: TraceContext | undefined,
  ): Promise<void> {
    const v1: OutgoingEvent = {
      subject: SUBJECTS.orderCreated,
      payload: downcastOrderCreated(event),
      msgId: event.orderId,
    }
    const v2: OutgoingEvent = { subject: SUBJECTS.orderCreated, payload: event, msgId: `${event.orderId}:v2` }
    const priority = event.priority ?? 'standard'
    if (priority === 'express') deps.laneSignals?.open(event.orderId)
    let stored: { duplicate: boolean }
    try {
      if (versions.includes(1) && versions.includes(2)) {
        stored = await publishAtomically(
          nc,
          [{ event: v1, headers: { [HEADERS.twinVersion]: '2' } }, { event: v2 }],
          {
            correlationId,
            timeoutMs,
            source: EVENT_SOURCES.order,
            priority,
            trace,
          },
        )
      } else {
        stored = await publishEvent(js, versions.includes(2) ? v2 : v1, {
          correlationId,
          timeoutMs,
          source: EVENT_SOURCES.order,
          priority,
          trace,
          // A new order's id is unknown until this publish: a duplicate is a retry of it.
          duplicates: 'trust',
        })
      }
      // A retry of an order the stream already holds is not published again.
      if (!stored.duplicate) metrics.eventsPublished.inc({ subject: SUBJECTS.orderCreated })
      recent?.add(event.orderId, { owner: event.owner, priority, correlationId, at: now().getTime() })
    } catch (error) {
      metrics.eventsPublishFailed.inc({ subject: SUBJECTS.orderCreated })
      throw error
    }
  }

  async function newOrderCreated(request: CreateOrderRequest, owner?: string): Promise<OrderCreated> {
    const orderId = newId()
    return toOrderCreated(request, orderId, now(), await sealer.seal(request.paymentToken, orderId), owner)
  }

  /** The projection's status of an order, `null` when it has not applied the order yet. */
  async function projectedStatus(orderId: string): Promise<OrderStatusValue | null> {
    return (await readJson(statusKv, orderId, OrderStatusV1))?.value.status ?? null
  }

  async function place(
    {
      request,
      correlationId,
      idempotencyKey,
      owner,
      fingerprintOf = request,
      fingerprintBefore,
      trace,
    }: PlaceOrderInput,
    /** The order whose event is being published (for the 503), and whether the request gave up. */
    publishing: Publishing,
  ): Promise<PlaceOrderResult> {
    if (idempotencyKey === undefined) {
      const event = await newOrderCreated(request, owner)
      startPublishing(publishing, event.orderId)
      await publishCreated(event, correlationId, trace)
      return { kind: 'accepted', orderId: event.orderId, correlationId, replayed: false, status: 'pending' }
    }

    // Per key id: an owner id never holds a newline, an Idempotency-Key neither.
    const key = await sha256Hex(owner === undefined ? idempotencyKey : `${owner}\n${idempotencyKey}`)
    const requestText = canonicalJson(fingerprintOf)
    const textBefore = fingerprintBefore === undefined ? undefined : canonicalJson(fingerprintBefore)
    const fingerprint = await fingerprinter.digest(requestText)
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await readJson(idempotencyKv, key, IdempotencyRecordV1)
      if (existing !== null) {
        const record = existing.value
        if (!(await fingerprinter.matches(record.fingerprint, requestText, textBefore)))
          return { kind: 'idempotency_key_reused' }
        // The first attempt may have stored the key but not the event: publish
        // again unless the projection knows the order. Same Nats-Msg-Id: within
        // the stream's duplicate window it is never stored twice, and past it
        // every consumer is idempotent per order id.
        const status = await projectedStatus(record.orderId)
        const created = record.created ?? (record.event ? upcastOrderCreated(record.event) : undefined)
        if (status === null && created !== undefined) {
          startPublishing(publishing, record.orderId)
          await publishCreated(created, record.correlationId, trace)
        }
        return {
          kind: 'accepted',
          orderId: record.orderId,
          correlationId: record.correlationId,
          replayed: true,
          status: status ?? 'pending',
        }
      }
      const event = await newOrderCreated(request, owner)
      const record: IdempotencyRecord = { fingerprint, orderId: event.orderId, correlationId, created: event }
      try {
        await idempotencyKv.create(key, encoder.encode(JSON.stringify(record)))
      } catch (error) {
        if (isRevisionConflict(error)) continue // a concurrent request with the same key won
        throw error
      }
      startPublishing(publishing, event.orderId)
      await publishCreated(event, correlationId, trace)
      return { kind: 'accepted', orderId: event.orderId, correlationId, replayed: false, status: 'pending' }
    }
    throw new UnavailableError('idempotency key contended; retry')
  }

  function guard<T>(what: string, work: () => Promise<T>): Promise<T> {
    if (!isConnected()) return Promise.reject(new UnavailableError('not connected to NATS'))
    return withDeadline(
      work(),
      timeoutMs,
      () => new UnavailableError(`${what} took longer than ${timeoutMs} ms`),
    ).catch((error: unknown) => {
      // A record that does not parse is not an outage: retrying cannot help.
      if (error instanceof UnavailableError || error instanceof KvRecordError) throw error
      throw new UnavailableError(`${what} failed`, { cause: error })
    })
  }

  const readStatus = (orderId: string): Promise<OrderStatus | null> =>
    guard('reading the order', async () => (await readJson(statusKv, orderId, OrderStatusV1))?.value ?? null)

  /**
   * The projection's record; for an order minted moments ago that it has not
   * applied yet, polls until it has or `statusWaitMs` passes. The intake
   * writes one event per order and nothing else, so this is how a GET right
   * after a 202 sees the order.
   */
  async function getOrder(
    orderId: string,
    visible: (order: OrderStatus) => boolean = () => true,
  ): Promise<OrderStatus | null> {
    const shown = (record: OrderStatus | null) => (record !== null && visible(record) ? record : null)
    const first = shown(await readStatus(orderId))
    if (first !== null || statusWaitMs === 0) return first
    const minted = mintedAt(orderId)
    const started = now().getTime()
    // Minted later than now (beyond another instance's clock running ahead): no intake minted it.
    if (minted === null || started - minted > FRESH_ORDER_MS || minted - started > CLOCK_SKEW_MS) return null
    const until = started + statusWaitMs
    for (let poll = 0; ; poll++) {
      const left = until - now().getTime()
      if (left <= 0) return null
      const gap = STATUS_POLL_MS[Math.min(poll, STATUS_POLL_MS.length - 1)] ?? 100
      await new Promise((resolve) => setTimeout(resolve, Math.min(gap, left)))
      const record = shown(await readStatus(orderId))
      if (record !== null) return record
    }
  }

  async function requestCancellation({
    orderId,
    correlationId,
    requestedBy,
    trace,
    priority = 'standard',
  }: CancelOrderInput) {
    const event: OrderCancelRequested = {
      version: 1,
      orderId,
      occurredAt: now().toISOString(),
      reason: 'customer_request',
      requestedBy,
    }
    try {
      // Each request its own id, which nobody can know before it is published
      // (an order's id can be read from the stream, so `<subject>:<orderId>`
      // could be taken first, and the edge's identity may not read the stream
      // back to check). A repeated request is stored again; the handlers take
      // it as one.
      const request = toEvent(SUBJECTS.orderCancelRequested, event)
      await publishEvent(
        js,
        { ...request, msgId: `${request.msgId}:${crypto.randomUUID()}` },
        {
          correlationId,
          timeoutMs,
          source: EVENT_SOURCES.order,
          priority,
          trace,
          duplicates: 'trust',
        },
      )
      metrics.eventsPublished.inc({ subject: SUBJECTS.orderCancelRequested })
    } catch (error) {
      metrics.eventsPublishFailed.inc({ subject: SUBJECTS.orderCancelRequested })
      throw error
    }
  }

  return {
    placeOrder: async (input) => {
      const publishing: Publishing = { abandoned: false }
      try {
        return await guard('placing the order', () => place(input, publishing))
      } catch (error) {
        // The request answers now: work still under way publishes nothing more.
        publishing.abandoned = true
        // Named only when the event may be stored: its publish started and its
        // outcome is unknown (no answer in time, the connection lost), not
        // when NATS refused it.
        if (
          error instanceof UnavailableError &&
          publishing.orderId !== undefined &&
          (error.cause === undefined || isOutcomeUnknown(error.cause))
        )
          error.orderId = publishing.orderId
        throw error
      }
    },
    requestCancellation: (input) => guard('cancelling the order', () => requestCancellation(input)),
    getOrder,
    recentlyPublished: (orderId) => recent?.get(orderId),
  }
}
