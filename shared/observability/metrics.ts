import type { IncreaseDataWithExemplar, LabelValues, ObserveDataWithExemplar } from 'prom-client'
import { boundLabels, DEAD_LETTER_REASON_LABELS } from './labels.ts'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from './prom.ts'

/**
 * Makes a counter pass its label sets through `boundLabels` (labels.ts): a
 * subject, method, route or status nobody declared counts as `other`, so
 * traffic can never add series. (prom-client sets `inc` per instance, so it
 * is wrapped there rather than overridden in a subclass.)
 */
function bounded<T extends string>(counter: Counter<T>): Counter<T> {
  const inc = counter.inc.bind(counter) as (
    labels?: LabelValues<T> | IncreaseDataWithExemplar<T> | number,
    value?: number,
  ) => void
  const boundedInc = (
    labels?: LabelValues<T> | IncreaseDataWithExemplar<T> | number,
    value?: number,
  ): void => {
    if (labels === undefined || typeof labels === 'number') inc(labels)
    else if (isExemplar(labels)) inc({ ...labels, labels: boundLabels(labels.labels ?? {}) })
    else inc(boundLabels(labels), value)
  }
  counter.inc = boundedInc
  return counter
}

/** Makes a histogram pass its label sets through `boundLabels`. */
function boundedHistogram<T extends string>(histogram: Histogram<T>): Histogram<T> {
  const observe = histogram.observe.bind(histogram) as (
    labels: LabelValues<T> | ObserveDataWithExemplar<T> | number,
    value?: number,
  ) => void
  const boundedObserve = (
    labels: LabelValues<T> | ObserveDataWithExemplar<T> | number,
    value?: number,
  ): void => {
    if (typeof labels === 'number') observe(labels)
    else if (isExemplar(labels)) observe({ ...labels, labels: boundLabels(labels.labels ?? {}) })
    else observe(boundLabels(labels), value)
  }
  histogram.observe = boundedObserve
  return histogram
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
  /** Time a message waited in the stream before its handling began (each saga step's queueing). */
  messageLag: Histogram<'consumer' | 'subject'>
  deadLetters: Counter<'consumer' | 'reason'>
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
    httpRequests: bounded(
      new Counter({
        name: 'http_requests_total',
        help: 'HTTP requests by method, route pattern and status',
        labelNames: ['method', 'route', 'status'],
        registers,
      }),
    ),
    httpDuration: boundedHistogram(
      new Histogram({
        name: 'http_request_duration_seconds',
        help: 'HTTP request duration by method, route pattern and status',
        labelNames: ['method', 'route', 'status'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
        registers,
      }),
    ),
    eventsPublished: bounded(
      new Counter({
        name: 'events_published_total',
        help: 'Events stored by JetStream, by subject (not those the stream already held)',
        labelNames: ['subject'],
        registers,
      }),
    ),
    eventsPublishFailed: bounded(
      new Counter({
        name: 'events_publish_failed_total',
        help: 'Events JetStream did not acknowledge in time, by subject',
        labelNames: ['subject'],
        registers,
      }),
    ),
    messagesHandled: bounded(
      new Counter({
        name: 'messages_handled_total',
        help: 'Consumed messages by consumer, subject and outcome (ack, nak, term, dead_letter, skipped, deferred)',
        labelNames: ['consumer', 'subject', 'outcome'],
        registers,
      }),
    ),
    messageDuration: boundedHistogram(
      new Histogram({
        name: 'message_handle_duration_seconds',
        help: 'Time to handle one consumed message',
        labelNames: ['consumer', 'subject'],
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      }),
    ),
    messageLag: boundedHistogram(
      new Histogram({
        name: 'message_lag_seconds',
        help: 'Time from a message being stored in the stream to its handling starting, by consumer and subject',
        labelNames: ['consumer', 'subject'],
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
        registers,
      }),
    ),
    deadLetters: bounded(
      new Counter({
        name: 'dead_letters_total',
        help: `Messages dead-lettered by this worker, by consumer and reason (${DEAD_LETTER_REASON_LABELS.join(', ')})`,
        labelNames: ['consumer', 'reason'],
        registers,
      }),
    ),
    consumerPaused: new Gauge({
      name: 'consumer_paused',
      help: '1 while a consumer pulls nothing because a dependency is down',
      labelNames: ['consumer'],
      registers,
    }),
  }
}
