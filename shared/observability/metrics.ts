import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from './prom.ts'

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
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    eventsPublished: new Counter({
      name: 'events_published_total',
      help: 'Events acknowledged by JetStream, by subject',
      labelNames: ['subject'],
      registers,
    }),
    eventsPublishFailed: new Counter({
      name: 'events_publish_failed_total',
      help: 'Events JetStream did not acknowledge in time, by subject',
      labelNames: ['subject'],
      registers,
    }),
    messagesHandled: new Counter({
      name: 'messages_handled_total',
      help: 'Consumed messages by consumer, subject and outcome (ack, nak, term, dead_letter)',
      labelNames: ['consumer', 'subject', 'outcome'],
      registers,
    }),
    messageDuration: new Histogram({
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
