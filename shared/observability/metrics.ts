import type { IncreaseDataWithExemplar, LabelValues, ObserveDataWithExemplar } from 'prom-client'
import { boundLabels } from './labels.ts'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from './prom.ts'

/**
 * A counter whose label sets pass through `boundLabels` (labels.ts): a subject,
 * method, route or status nobody declared counts as `other`, so traffic can
 * never add series.
 */
class BoundedCounter<T extends string> extends Counter<T> {
  override inc(labels?: LabelValues<T> | IncreaseDataWithExemplar<T> | number, value?: number): void {
    if (labels === undefined || typeof labels === 'number') super.inc(labels)
    else if (isExemplar(labels)) super.inc({ ...labels, labels: boundLabels(labels.labels ?? {}) })
    else super.inc(boundLabels(labels), value)
  }
}

/** A histogram whose label sets pass through `boundLabels`. */
class BoundedHistogram<T extends string> extends Histogram<T> {
  override observe(labels: LabelValues<T> | ObserveDataWithExemplar<T> | number, value?: number): void {
    if (typeof labels === 'number') super.observe(labels)
    else if (isExemplar(labels)) super.observe({ ...labels, labels: boundLabels(labels.labels ?? {}) })
    else super.observe(boundLabels(labels), value ?? 0)
  }
}

function isExemplar<T extends string>(
  labels: LabelValues<T> | { exemplarLabels?: unknown },
): labels is { labels?: LabelValues<T>; exemplarLabels?: LabelValues<string> } {
  return 'exemplarLabels' in labels
}

export interface Metrics {
  registry: Registry
  httpRequests: Counter<'method' | 'route' | 'status'>
  httpDuration: Histogram<'method' | 'route' | 'status'>
  eventsPublished: Counter<'subject'>
  eventsPublishFailed: Counter<'subject'>
  messagesHandled: Counter<'consumer' | 'subject' | 'outcome'>
  messageDuration: Histogram<'consumer' | 'subject'>
  consumerPaused: Gauge<'consumer'>
}

/** One registry per service (not prom-client's global one), so tests can build many. */
export function createMetrics(service: string): Metrics {
  const registry = new Registry()
  registry.setDefaultLabels({ service })
  collectDefaultMetrics({ register: registry })
  const registers = [registry]
  return {
    registry,
    httpRequests: new BoundedCounter({
      name: 'http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new BoundedHistogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    eventsPublished: new BoundedCounter({
      name: 'events_published_total',
      help: 'Events acknowledged by JetStream, by subject',
      labelNames: ['subject'],
      registers,
    }),
    eventsPublishFailed: new BoundedCounter({
      name: 'events_publish_failed_total',
      help: 'Events JetStream did not acknowledge in time, by subject',
      labelNames: ['subject'],
      registers,
    }),
    messagesHandled: new BoundedCounter({
      name: 'messages_handled_total',
      help: 'Consumed messages by consumer, subject and outcome (ack, nak, term, dead_letter)',
      labelNames: ['consumer', 'subject', 'outcome'],
      registers,
    }),
    messageDuration: new BoundedHistogram({
      name: 'message_handle_duration_seconds',
      help: 'Time to handle one consumed message',
      labelNames: ['consumer', 'subject'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    consumerPaused: new Gauge({
      name: 'consumer_paused',
      help: '1 while a consumer pulls nothing because a dependency is down',
      labelNames: ['consumer'],
      registers,
    }),
  }
}
