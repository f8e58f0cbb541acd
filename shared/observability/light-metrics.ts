/**
 * In-memory metrics with web-standard APIs only, for Workers, where
 * prom-client does not run. Counters, and durations as a summary (`_sum`,
 * `_count`), rendered as Prometheus text. At the edge they cover one isolate
 * only; Workers Analytics or logs are the fleet-wide view.
 */
import { boundLabels } from './labels.ts'
import type { CounterPort, HistogramPort, IntakeMetrics, LabelValues } from './metrics-port.ts'

interface Series {
  labels: string
  value: number
  count: number
}

interface Family {
  name: string
  help: string
  type: 'counter' | 'summary'
  series: Map<string, Series>
}

export function createLightMetrics(service: string): IntakeMetrics {
  const families: Family[] = []
  const family = (name: string, help: string, type: Family['type']): Family => {
    const f: Family = { name, help, type, series: new Map() }
    families.push(f)
    return f
  }
  const record = (f: Family, labels: LabelValues<string>, value: number): void => {
    // Bounded like the prom-client metrics: unknown subjects, methods, routes count as `other`.
    const text = renderLabels({ ...boundLabels(labels), service })
    const series = f.series.get(text) ?? { labels: text, value: 0, count: 0 }
    series.value += value
    series.count += 1
    f.series.set(text, series)
  }
  const counter = <L extends string>(name: string, help: string): CounterPort<L> => {
    const f = family(name, help, 'counter')
    return { inc: (labels, value = 1) => record(f, labels, value) }
  }
  const summary = <L extends string>(name: string, help: string): HistogramPort<L> => {
    const f = family(name, help, 'summary')
    return { observe: (labels, value) => record(f, labels, value) }
  }

  return {
    registry: {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      metrics: () => Promise.resolve(render(families)),
    },
    httpRequests: counter('http_requests_total', 'HTTP requests by method, route pattern and status'),
    httpDuration: summary(
      'http_request_duration_seconds',
      'HTTP request duration by method, route pattern and status',
    ),
    eventsPublished: counter(
      'events_published_total',
      'Events stored by JetStream, by subject (not those the stream already held)',
    ),
    eventsPublishFailed: counter(
      'events_publish_failed_total',
      'Events JetStream did not acknowledge in time, by subject',
    ),
  }
}

function renderLabels(labels: LabelValues<string>): string {
  const parts = Object.entries(labels).flatMap(([k, v]) =>
    v === undefined
      ? []
      : [`${k}="${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`],
  )
  return `{${parts.join(',')}}`
}

function render(families: readonly Family[]): string {
  const lines: string[] = []
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`)
    for (const s of f.series.values()) {
      if (f.type === 'counter') lines.push(`${f.name}${s.labels} ${s.value}`)
      else lines.push(`${f.name}_sum${s.labels} ${s.value}`, `${f.name}_count${s.labels} ${s.count}`)
    }
  }
  return `${lines.join('\n')}\n`
}
