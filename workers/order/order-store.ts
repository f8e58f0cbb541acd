/*
 * The order service's port to NATS: place an order (publish `orders.created`
 * once, idempotently) and read its status. Web-standard APIs only, so the
 * same code runs on Bun, Node, Deno and Workers.
 */
import type { JetStreamClient } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import * as v from 'valibot'
import { OrderCreatedV1, type OrderCreated } from '../../schemas/events.ts'
import type { CreateOrderRequest } from '../../schemas/order-request.ts'
import { OrderStatusV1, type OrderStatus } from '../../schemas/order-status.ts'
import { SUBJECTS } from '../../schemas/subjects.ts'
import { isRevisionConflict, readJson } from '../../shared/nats/kv-json.ts'
import { publishEvent } from '../../shared/nats/publish.ts'
import type { Logger } from '../../shared/observability/log.ts'
import type { IntakeMetrics } from '../../shared/observability/metrics-port.ts'
import { withDeadline } from '../../shared/resilience/deadline.ts'
import { canonicalJson, toOrderCreated, toPendingStatus } from './domain.ts'

/** NATS cannot take the order now; the client should retry (HTTP 503). */
export class UnavailableError extends Error {
  override readonly name = 'UnavailableError'
}

export type PlaceOrderResult =
  | { kind: 'accepted'; orderId: string; correlationId: string; replayed: boolean }
  | { kind: 'idempotency_key_reused' }

export interface OrderStore {
  placeOrder(input: {
    request: CreateOrderRequest
    correlationId: string
    idempotencyKey?: string
  }): Promise<PlaceOrderResult>
  getOrder(orderId: string): Promise<OrderStatus | null>
}

const IdempotencyRecordV1 = v.object({
  fingerprint: v.string(),
  orderId: v.string(),
  correlationId: v.string(),
  event: OrderCreatedV1,
})
type IdempotencyRecord = v.InferOutput<typeof IdempotencyRecordV1>

export interface NatsOrderStoreDeps {
  js: JetStreamClient
  statusKv: KV
  idempotencyKv: KV
  isConnected: () => boolean
  logger: Logger
  metrics: Pick<IntakeMetrics, 'eventsPublished' | 'eventsPublishFailed'>
  /** Deadline for everything one request asks of NATS. */
  timeoutMs: number
  newId?: () => string
  now?: () => Date
}

const encoder = new TextEncoder()

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(text))
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

export function createNatsOrderStore(deps: NatsOrderStoreDeps): OrderStore {
  const { js, statusKv, idempotencyKv, isConnected, logger, metrics, timeoutMs } = deps
  const newId = deps.newId ?? (() => crypto.randomUUID())
  const now = deps.now ?? (() => new Date())

  async function publishCreated(event: OrderCreated, correlationId: string): Promise<void> {
    try {
      await publishEvent(
        js,
        { subject: SUBJECTS.orderCreated, payload: event, msgId: event.orderId },
        { correlationId, timeoutMs },
      )
      metrics.eventsPublished.inc({ subject: SUBJECTS.orderCreated })
    } catch (error) {
      metrics.eventsPublishFailed.inc({ subject: SUBJECTS.orderCreated })
      throw error
    }
  }

  /** Read-your-writes for GET right after 202; the projection fills it otherwise. */
  async function writePendingStatus(event: OrderCreated, correlationId: string): Promise<void> {
    try {
      const record = toPendingStatus(event, correlationId, now().toISOString())
      await statusKv.create(event.orderId, encoder.encode(JSON.stringify(record)))
    } catch (error) {
      if (!isRevisionConflict(error)) {
        logger.warn(
          { err: error, orderId: event.orderId, correlationId },
          'pending status not written; the projection will',
        )
      }
    }
  }

  async function place(
    request: CreateOrderRequest,
    correlationId: string,
    idempotencyKey?: string,
  ): Promise<PlaceOrderResult> {
    if (idempotencyKey === undefined) {
      const event = toOrderCreated(request, newId(), now())
      await publishCreated(event, correlationId)
      await writePendingStatus(event, correlationId)
      return { kind: 'accepted', orderId: event.orderId, correlationId, replayed: false }
    }

    const key = await sha256Hex(idempotencyKey)
    const fingerprint = await sha256Hex(canonicalJson(request))
    for (let attempt = 0; attempt < 3; attempt++) {
      const existing = await readJson(idempotencyKv, key, IdempotencyRecordV1)
      if (existing !== null) {
        const record = existing.value
        if (record.fingerprint !== fingerprint) return { kind: 'idempotency_key_reused' }
        // The first attempt may have stored the key but not the event: publish
        // again unless the order is known. Same Nats-Msg-Id: never stored twice.
        if ((await statusKv.get(record.orderId))?.operation !== 'PUT') {
          await publishCreated(record.event, record.correlationId)
          await writePendingStatus(record.event, record.correlationId)
        }
        return {
          kind: 'accepted',
          orderId: record.orderId,
          correlationId: record.correlationId,
          replayed: true,
        }
      }
      const event = toOrderCreated(request, newId(), now())
      const record: IdempotencyRecord = { fingerprint, orderId: event.orderId, correlationId, event }
      try {
        await idempotencyKv.create(key, encoder.encode(JSON.stringify(record)))
      } catch (error) {
        if (isRevisionConflict(error)) continue // a concurrent request with the same key won
        throw error
      }
      await publishCreated(event, correlationId)
      await writePendingStatus(event, correlationId)
      return { kind: 'accepted', orderId: event.orderId, correlationId, replayed: false }
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
      if (error instanceof UnavailableError) throw error
      throw new UnavailableError(`${what} failed`, { cause: error })
    })
  }

  return {
    placeOrder: ({ request, correlationId, idempotencyKey }) =>
      guard('placing the order', () => place(request, correlationId, idempotencyKey)),
    getOrder: (orderId) =>
      guard(
        'reading the order',
        async () => (await readJson(statusKv, orderId, OrderStatusV1))?.value ?? null,
      ),
  }
}
