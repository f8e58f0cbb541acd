/**
 * What the HTTP layer and the order intake need from metrics. prom-client's
 * `Metrics` (`metrics.ts`, Bun/Node/Deno) satisfies these structurally; so does
 * the in-memory `createLightMetrics` for Workers.
 */
export type LabelValues<L extends string> = Partial<Record<L, string | number>>

export interface CounterPort<L extends string> {
  inc(labels: LabelValues<L>, value?: number): void
}

export interface HistogramPort<L extends string> {
  observe(labels: LabelValues<L>, value: number): void
}

/** The text `GET /metrics` serves. */
export interface MetricsExposition {
  readonly contentType: string
  metrics(): Promise<string>
}

export interface HttpMetrics {
  registry: MetricsExposition
  httpRequests: CounterPort<'method' | 'route' | 'status'>
  httpDuration: HistogramPort<'method' | 'route' | 'status'>
}

/** The order intake: HTTP plus the events it publishes. */
export interface IntakeMetrics extends HttpMetrics {
  eventsPublished: CounterPort<'subject'>
  eventsPublishFailed: CounterPort<'subject'>
}
