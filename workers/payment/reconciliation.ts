/*
 * Reconciliation: what the payment worker still has to settle with the
 * processor after the order itself was decided. Two kinds of entry, one per
 * order, in the `payment-reconciliation` bucket (so a restart forgets none):
 *
 * - `charge`: the processor never answered a charge (the order was cancelled
 *   `payment_failed`), or the order's deadline came with its charge unsettled
 *   (cancelled `deadline_exceeded`, or for the customer's request it waited
 *   on). The key is looked up until the processor says: a charge
 *   found is refunded (and `payments.refunded` tells the order's record); a
 *   decline, or no attempt at all for `PAYMENT_RECONCILE_WINDOW_MS`, closes it.
 * - `refund`: a cancelled paid order whose refund the processor could not
 *   take yet; retried under the same refund key until it is made.
 *
 * Every running payment worker scans the bucket; refunds are idempotent per
 * key and events carry message ids, so two workers on one entry do no harm.
 */
import type { KV } from '@nats-io/kv'
import * as v from 'valibot'
import type { CancelRequestReason } from '../../schemas/events.ts'
import { CurrencySchema, CentsSchema, OrderIdSchema, PrioritySchema } from '../../schemas/primitives.ts'
import { SUBJECTS, type Priority } from '../../schemas/subjects.ts'
import { readJson } from '../../shared/nats/kv-json.ts'
import { toEvent, type OutgoingEvent } from '../../shared/nats/publish.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import {
  parseTraceparent,
  traceLogFields,
  type TraceContext,
} from '../../shared/observability/trace-context.ts'
import { createPropagatingTracer, type Tracer } from '../../shared/observability/tracing.ts'
import type { DecisionStore } from '../../shared/saga/decision.ts'
import { RefundRefusedError, type GatewayClient } from './gateway-client.ts'

/**
 * The event that ends an order whose charge went unanswered: the
 * cancellation asked for (a customer's, or the deadline's), or, with none,
 * its failed payment (`payment_failed`). Said by the payment worker when it
 * decides the order, and again by reconciliation as it closes the entry
 * (the same message id either way).
 */
export function unresolvedEnd(
  orderId: string,
  requested: CancelRequestReason | undefined,
  occurredAt: string,
  detail: string,
): OutgoingEvent {
  const base = { version: 1 as const, orderId, occurredAt }
  return requested === undefined
    ? toEvent(SUBJECTS.paymentFailed, {
        ...base,
        reason: 'gateway_unavailable',
        message: detail,
        unresolved: true,
      })
    : toEvent(SUBJECTS.orderCancelled, { ...base, reason: requested })
}

export const ReconciliationEntryV1 = v.object({
  orderId: OrderIdSchema,
  kind: v.picklist(['charge', 'refund']),
  chargeId: v.optional(v.string()),
  reason: v.picklist(['customer_request', 'deadline_exceeded', 'reconciliation']),
  amountCents: CentsSchema,
  currency: CurrencySchema,
  correlationId: v.string(),
  /** The span that handed the entry over (W3C `traceparent`): checks continue the order's trace. */
  traceparent: v.optional(v.string()),
  /** The order's lane: an express order's `payments.refunded` goes on `.express`. Absent: standard. */
  priority: v.optional(PrioritySchema),
})
export type ReconciliationEntry = v.InferOutput<typeof ReconciliationEntryV1>

const StoredEntryV1 = v.object({
  ...ReconciliationEntryV1.entries,
  since: v.number(),
  nextCheckAt: v.number(),
  checks: v.number(),
})
type StoredEntry = v.InferOutput<typeof StoredEntryV1>

const encoder = new TextEncoder()

/** Adds an entry (idempotent: an entry already there is kept). */
export async function addEntry(kv: KV, entry: ReconciliationEntry, now: number): Promise<void> {
  const stored: StoredEntry = { ...entry, since: now, nextCheckAt: now, checks: 0 }
  try {
    await kv.create(entry.orderId, encoder.encode(JSON.stringify(stored)))
  } catch (error) {
    if ((await kv.get(entry.orderId))?.operation === 'PUT') return
    throw error
  }
}

export interface ReconcilerDeps {
  kv: KV
  /**
   * The keys in the bucket. Not `kv.keys()`: that opens a consumer on the
   * bucket's stream, which this identity may not; the stream's subject list
   * needs only its info.
   */
  listKeys: () => Promise<string[]>
  gateway: Pick<GatewayClient, 'lookup' | 'refund'>
  decisions: DecisionStore
  publish: (
    event: OutgoingEvent,
    correlationId: string,
    trace?: TraceContext,
    priority?: Priority,
  ) => Promise<void>
  logger: Logger
  /** A span per check (propagation only by default). */
  tracer?: Tracer
  /** How often the bucket is scanned. */
  intervalMs: number
  /** How long a charge key nobody answered for is checked before it is closed as "no charge". */
  windowMs: number
  /** Longest pause between two checks of one entry. */
  maxBackoffMs: number
  /** After each scan: the entries still pending, and how long the oldest of them has been (ms; 0 when none). */
  onPending?: (count: number, oldestMs: number) => void
  now?: () => number
}

export type CheckResult = 'refunded' | 'closed' | 'waiting'

export function createReconciler(deps: ReconcilerDeps) {
  const { kv, gateway, decisions, publish, logger, intervalMs, windowMs, maxBackoffMs } = deps
  const now = deps.now ?? Date.now
  const tracer = deps.tracer ?? createPropagatingTracer()
  const refundKey = (orderId: string) => `refund:${orderId}`

  async function refundCharge(entry: StoredEntry, chargeId: string, trace: TraceContext): Promise<void> {
    const made = await gateway.refund({
      chargeId,
      key: refundKey(entry.orderId),
      trace,
      correlationId: entry.correlationId,
    })
    await decisions.update(entry.orderId, (current) => {
      if (current?.payment === undefined) return { result: undefined }
      return {
        value: {
          ...current,
          updatedAt: new Date(now()).toISOString(),
          payment: {
            ...current.payment,
            state: 'refunded',
            chargeId,
            refundId: made.refundId,
            refundedCents: made.amountCents,
          },
        },
        result: undefined,
      }
    })
    await publish(
      toEvent(SUBJECTS.paymentRefunded, {
        version: 1,
        orderId: entry.orderId,
        occurredAt: new Date(now()).toISOString(),
        chargeId,
        chargedCents: entry.amountCents,
        refundId: made.refundId,
        amountCents: made.amountCents,
        currency: entry.currency,
        reason: entry.reason,
      }),
      entry.correlationId,
      trace,
      entry.priority,
    )
  }

  /**
   * The event that settled the order when its entry was made (its
   * cancellation, or its payment failure), said again as the entry closes,
   * under the same message id: the delivery that decided the order may have
   * been dead-lettered before its publish, and nothing else says it then (a
   * deadline's own cancellation fires once). Only that event releases the
   * order's stock.
   */
  function outcomeOf(entry: StoredEntry): OutgoingEvent {
    const requested = entry.reason === 'reconciliation' ? undefined : entry.reason
    return unresolvedEnd(
      entry.orderId,
      requested,
      new Date(now()).toISOString(),
      'the processor never answered',
    )
  }

  /** One check of one entry; throws when the processor cannot be reached. */
  async function check(entry: StoredEntry, trace: TraceContext): Promise<CheckResult> {
    if (entry.kind === 'refund') {
      if (entry.chargeId === undefined) return 'closed'
      await refundCharge(entry, entry.chargeId, trace)
      return 'refunded'
    }
    const found = await gateway.lookup(entry.orderId, trace, entry.correlationId)
    switch (found.kind) {
      case 'succeeded':
        await refundCharge(entry, found.chargeId, trace)
        return 'refunded'
      case 'declined':
        return 'closed'
      case 'processing':
        return 'waiting'
      case 'not_found':
        return now() - entry.since >= windowMs ? 'closed' : 'waiting'
    }
  }

  /** `settled`, or the time the entry was made (epoch ms) while it is pending. */
  async function checkOne(key: string): Promise<'settled' | number> {
    const stored = await readJson(kv, key, StoredEntryV1)
    if (stored === null) return 'settled'
    const entry = stored.value
    if (entry.nextCheckAt > now()) return entry.since
    const span = tracer.startSpan(`reconcile ${entry.kind}`, {
      kind: 'internal',
      parent: parseTraceparent(entry.traceparent),
      attributes: { 'order.id': entry.orderId, 'reconciliation.checks': entry.checks + 1 },
    })
    const log = logger.child({
      orderId: entry.orderId,
      correlationId: entry.correlationId,
      kind: entry.kind,
      ...traceLogFields(span.context),
    })
    let result: CheckResult
    try {
      result = await check(entry, span.context)
    } catch (error) {
      span.fail(error)
      if (error instanceof RefundRefusedError) {
        log.error({ err: error }, 'processor refused the refund: nothing left to refund; closing')
        result = 'closed'
      } else {
        log.warn({ err: error, checks: entry.checks + 1 }, 'reconciliation check failed; will retry')
        result = 'waiting'
      }
    }
    if (result !== 'waiting') {
      try {
        await publish(outcomeOf(entry), entry.correlationId, span.context, entry.priority)
      } catch (error) {
        // The entry stays: the next scan checks it again (the refund key makes that safe) and says it then.
        log.warn({ err: error }, "could not say the order's outcome again; the entry is kept")
        result = 'waiting'
      }
    }
    span.setAttributes({ 'reconciliation.result': result })
    span.end()
    if (result !== 'waiting') {
      log.info({ result, checks: entry.checks + 1 }, 'reconciliation settled')
      await kv.delete(key, { previousSeq: stored.revision }).catch(() => undefined)
      return 'settled'
    }
    const checks = entry.checks + 1
    const backoff = Math.min(maxBackoffMs, intervalMs * 2 ** Math.min(checks, 20))
    const next: StoredEntry = { ...entry, checks, nextCheckAt: now() + backoff }
    await kv.update(key, encoder.encode(JSON.stringify(next)), stored.revision).catch(() => undefined)
    return entry.since
  }

  /**
   * Since when each pending entry has waited: its own `since` when it was
   * read, else when a scan first found it unreadable (a record refused by its
   * seal never settles: it must age like the others, not read as 0).
   */
  const pendingSince = new Map<string, number>()

  /** One scan of the bucket; returns how many entries are still pending. */
  async function scan(): Promise<number> {
    let pending = 0
    let oldest = Number.POSITIVE_INFINITY
    const keys = await deps.listKeys()
    for (const key of keys) {
      try {
        const since = await checkOne(key)
        if (since === 'settled') {
          pendingSince.delete(key)
          continue
        }
        pendingSince.set(key, since)
      } catch (error) {
        if (!pendingSince.has(key)) pendingSince.set(key, now())
        logger.warn({ err: error, orderId: key }, 'reconciliation entry could not be checked')
      }
      pending++
      oldest = Math.min(oldest, pendingSince.get(key) ?? now())
    }
    const listed = new Set(keys)
    for (const key of pendingSince.keys()) if (!listed.has(key)) pendingSince.delete(key)
    deps.onPending?.(pending, Number.isFinite(oldest) ? Math.max(0, now() - oldest) : 0)
    return pending
  }

  let timer: ReturnType<typeof setTimeout> | undefined
  let running: Promise<unknown> = Promise.resolve()
  let stopped = false
  const loop = () => {
    running = scan()
      .catch((error: unknown) => logger.warn({ err: error }, 'reconciliation scan failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, intervalMs)
      })
  }

  return {
    scan,
    start(): void {
      stopped = false
      timer = setTimeout(loop, 0)
    },
    async stop(): Promise<void> {
      stopped = true
      clearTimeout(timer)
      await running
    },
  }
}
