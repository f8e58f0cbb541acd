/*
 * The analytics worker's own Prometheus series, on the service's registry.
 * They count what this process applied since it started (a skipped
 * redelivery adds nothing); the exact per-minute figures are in
 * GET /analytics/summary. Labels take known values only: the event kinds,
 * the cancellation reasons, and at most MAX_CURRENCY_LABELS currencies.
 */
import { CancellationReasonSchema } from '../../schemas/events.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import { Counter, Gauge, Histogram } from '../../shared/observability/prom.ts'
import type { AnalyticsEvent, Contribution } from './domain.ts'

export const MAX_CURRENCY_LABELS = 8

export interface AnalyticsMetrics {
  /** An event whose contribution reached its window. */
  applied(event: AnalyticsEvent, contribution: Contribution, seq: number): void
  /** An event that added nothing: `repeated` (its order had it already) or `redelivered` (its window had it). */
  skipped(event: AnalyticsEvent, reason: 'repeated' | 'redelivered'): void
  /** The live consumer took `event` and is applying it (it stays in hand while its writes fail). */
  handling(event: AnalyticsEvent): void
  /** Where the live consumer is: `event` applied, `pending` events still to come after it (0: caught up). */
  behind(event: AnalyticsEvent, pending: number): void
  streamClients(n: number): void
  replayed(events: number): void
}

export function createAnalyticsMetrics({ registry }: Pick<Metrics, 'registry'>): AnalyticsMetrics {
  const registers = [registry]
  const events = new Counter({
    name: 'analytics_events_total',
    help: 'Order events by kind and outcome (applied, repeated, redelivered)',
    labelNames: ['kind', 'outcome'],
    registers,
  })
  const cancelled = new Counter({
    name: 'analytics_orders_cancelled_total',
    help: 'Orders cancelled, by reason',
    labelNames: ['reason'],
    registers,
  })
  // Each reason's series exists from the start at 0, so `increase()` sees the first one.
  for (const reason of CancellationReasonSchema.options) cancelled.inc({ reason }, 0)
  const revenue = new Counter({
    name: 'analytics_revenue_cents_total',
    help: 'Amounts of confirmed orders, by currency',
    labelNames: ['currency'],
    registers,
  })
  const refunded = new Counter({
    name: 'analytics_refunded_cents_total',
    help: 'Every refund, by currency (the summary refunds, not revenue.refundedCents)',
    labelNames: ['currency'],
    registers,
  })
  const duration = new Histogram({
    name: 'analytics_saga_duration_seconds',
    help: 'Order created to confirmed or cancelled (event time)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600, 1800],
    registers,
  })
  const position = new Gauge({
    name: 'analytics_applied_sequence',
    help: 'Stream sequence (ORDERS) of the last event applied to a window',
    registers,
  })
  // Read when scraped, so it grows while an event stays in hand (its writes
  // failing): one applied event at a time, nothing passes it.
  let inHand: number | undefined
  let last: { at: number; pending: number } = { at: 0, pending: 0 }
  new Gauge({
    name: 'analytics_event_lag_seconds',
    help: 'How far behind the live consumer is: now minus the event time of the event being applied, or of the last one applied while more wait; 0 once none is left',
    registers,
    collect() {
      const since = inHand ?? (last.pending === 0 ? undefined : last.at)
      this.set(since === undefined ? 0 : Math.max(0, (Date.now() - since) / 1000))
    },
  })
  const clients = new Gauge({
    name: 'analytics_stream_clients',
    help: 'Server-Sent Events clients connected',
    registers,
  })
  const replayedEvents = new Counter({
    name: 'analytics_replayed_events_total',
    help: 'Events read by replays (analytics --from)',
    registers,
  })
  const currencies = new Set<string>()
  const currencyLabel = (currency: string): string => {
    if (currencies.has(currency)) return currency
    if (currencies.size >= MAX_CURRENCY_LABELS || !/^[A-Z]{3}$/.test(currency)) return 'other'
    currencies.add(currency)
    return currency
  }
  return {
    applied(event, contribution, seq) {
      events.inc({ kind: event.kind, outcome: 'applied' })
      if (contribution.cancelled !== undefined) cancelled.inc({ reason: contribution.cancelled })
      if (contribution.confirmed !== undefined)
        revenue.inc(
          { currency: currencyLabel(contribution.confirmed.currency) },
          contribution.confirmed.amountCents,
        )
      if (contribution.refund !== undefined)
        refunded.inc(
          { currency: currencyLabel(contribution.refund.currency) },
          contribution.refund.amountCents,
        )
      if (contribution.durationMs !== undefined) duration.observe(contribution.durationMs / 1000)
      position.set(seq)
    },
    handling(event) {
      inHand = event.at
    },
    behind(event, pending) {
      inHand = undefined
      last = { at: event.at, pending }
    },
    skipped(event, reason) {
      events.inc({ kind: event.kind, outcome: reason })
    },
    streamClients: (n) => clients.set(n),
    replayed: (n) => replayedEvents.inc(n),
  }
}
