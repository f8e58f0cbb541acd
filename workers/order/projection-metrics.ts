/*
 * Business metrics, counted where an order's record changes: the projection
 * sees every event of every order once per change (a redelivered or late
 * event that changes nothing counts nothing). Labels come from the record's
 * schema (status, cancellation reason, refund reason): bounded.
 */
import { CancellationReasonSchema } from '../../schemas/events.ts'
import { isFinalStatus, OrderRefundSchema, type OrderStatus } from '../../schemas/order-status.ts'
import type { Registry } from '../../shared/observability/prom.ts'
import { Counter, Histogram } from '../../shared/observability/prom.ts'
import { mintedAt } from '../../schemas/primitives.ts'

/** One applied change of an order's record. */
export interface ProjectedChange {
  before: OrderStatus | null
  after: OrderStatus
  /** The event's `occurredAt`. */
  occurredAt: string
  /** When the projection applied it. */
  appliedAt: Date
}

export type ProjectionObserver = (change: ProjectedChange) => void

/** Seconds from 10 ms to 30 min: most sagas settle in well under a second; deadlines are 10 min. */
const DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800]
const LAG_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]

export function createProjectionMetrics(registry: Registry): ProjectionObserver {
  const registers = [registry]
  const finalized = new Counter({
    name: 'orders_finalized_total',
    help: 'Orders that reached a final status, by status and reason (none for confirmed); a confirmed order cancelled later (refund) counts again as cancelled',
    labelNames: ['status', 'reason'],
    registers,
  })
  const duration = new Histogram({
    name: 'order_saga_duration_seconds',
    help: 'Time from the order being placed (its UUIDv7 id) to the event that made it final, by final status',
    labelNames: ['status'],
    buckets: DURATION_BUCKETS,
    registers,
  })
  const refunds = new Counter({
    name: 'order_refunds_total',
    help: 'Refunds recorded on orders, by reason (customer_request, deadline_exceeded, reconciliation)',
    labelNames: ['reason'],
    registers,
  })
  const refundedCents = new Counter({
    name: 'order_refunded_cents_total',
    help: "Money refunded, in cents of the order's currency, by reason",
    labelNames: ['reason'],
    registers,
  })
  const lag = new Histogram({
    name: 'order_projection_lag_seconds',
    help: 'Time from an event happening (occurredAt) to the projection applying it to the order record',
    buckets: LAG_BUCKETS,
    registers,
  })

  // Every series exists from the start at 0: Prometheus's increase() and
  // rate() cannot see a series' first increment, so the first failure of a
  // reason would otherwise be missed.
  finalized.inc({ status: 'confirmed', reason: 'none' }, 0)
  for (const reason of CancellationReasonSchema.options) finalized.inc({ status: 'cancelled', reason }, 0)
  for (const reason of OrderRefundSchema.entries.reason.options) {
    refunds.inc({ reason }, 0)
    refundedCents.inc({ reason }, 0)
  }

  return ({ before, after, occurredAt, appliedAt }) => {
    const happened = Date.parse(occurredAt)
    if (Number.isFinite(happened)) lag.observe(Math.max(0, (appliedAt.getTime() - happened) / 1000))
    if (isFinalStatus(after.status) && before?.status !== after.status) {
      const status = after.status
      finalized.inc({ status, reason: status === 'cancelled' ? (after.reason ?? 'unknown') : 'none' })
      const placed = mintedAt(after.orderId)
      if (placed !== null && Number.isFinite(happened))
        duration.observe({ status }, Math.max(0, (happened - placed) / 1000))
    }
    const known = new Set((before?.refunds ?? []).map((r) => r.refundId))
    for (const refund of after.refunds ?? []) {
      if (known.has(refund.refundId)) continue
      refunds.inc({ reason: refund.reason })
      refundedCents.inc({ reason: refund.reason }, refund.amountCents)
    }
  }
}
