// The committed Grafana dashboard, checked without a Grafana (none is
// installable here, docs/operations.md): against the types Grafana publishes
// (@grafana/schema, at type-check time), and for what a Grafana would refuse
// or show empty: duplicate panel ids, panels off the grid or on top of each
// other, queries on a data source that is not provisioned, metrics nobody
// exports or documents.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  BarGaugeDisplayMode,
  BigValueColorMode,
  BigValueGraphMode,
  BigValueTextMode,
  DashboardCursorSync,
  LegendDisplayMode,
  SortOrder,
  StackingMode,
  ThresholdsMode,
  TooltipDisplayMode,
  VizOrientation,
  type Dashboard,
} from '@grafana/schema'
import { describe, expect, it } from 'vitest'
import dashboardJson from '../scripts/container/grafana/dashboards/order-saga.json' with { type: 'json' }
import { createNatsGauges } from '../shared/nats/nats-gauges.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { createMetrics } from '../shared/observability/metrics.ts'
import { createProjectionMetrics } from '../workers/order/projection-metrics.ts'
import { renderNatsMetrics } from '../workers/nats-metrics/render.ts'

const ROOT = join(import.meta.dirname, '..')
/**
 * Grafana's types with their enums widened to the JSON types (an imported
 * JSON file's strings are `string`); the enum values are checked below.
 */
type Json<T> = T extends string
  ? string
  : T extends number
    ? number
    : T extends boolean
      ? boolean
      : T extends readonly (infer E)[]
        ? Json<E>[]
        : T extends object
          ? { [K in keyof T]: Json<T[K]> }
          : T
// Grafana's own types: a field of the wrong type or shape fails `npm run typecheck`.
const dashboard: Json<Dashboard> = dashboardJson

interface GridPos {
  x: number
  y: number
  w: number
  h: number
}
interface Target {
  expr: string
  refId: string
  datasource?: { uid?: string }
}
interface PanelJson {
  id: number
  type: string
  title: string
  gridPos: GridPos
  datasource?: { uid?: string }
  targets?: Target[]
}
const panels = dashboardJson.panels as PanelJson[]

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
])

/** The metric names a PromQL expression selects. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without)\s*\([^)]*\)/g, ' ')
  const names = [...bare.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?/g)].flatMap(([, name = '', call]) =>
    call !== undefined || PROMQL_WORDS.has(name) ? [] : [name],
  )
  return [...new Set(names)]
}

/** Every metric name the code registers (payment's two are in payment/service.ts: read from the docs' table). */
function registeredNames(): Set<string> {
  const metrics = createMetrics('check')
  createProjectionMetrics(metrics.registry)
  const silent = createLogger({ service: 'check', level: 'silent', destination: { write: () => undefined } })
  createNatsGauges({ jsm: {} as never, registry: metrics.registry, logger: silent })
  const names = new Set(metrics.registry.getMetricsAsArray().map((m) => m.name))
  const nats = renderNatsMetrics([
    {
      url: 'http://n1:8222',
      varz: {
        server_name: 'n1',
        version: '2.15.1',
        connections: 1,
        total_connections: 1,
        subscriptions: 1,
        slow_consumers: 0,
        in_msgs: 1,
        out_msgs: 1,
        in_bytes: 1,
        out_bytes: 1,
        mem: 1,
        cpu: 1,
      },
      jsz: {
        memory: 0,
        storage: 1,
        streams: 1,
        consumers: 1,
        messages: 1,
        bytes: 1,
        api: { total: 1, errors: 0 },
        account_details: [
          {
            name: '$G',
            stream_detail: [
              {
                name: 'ORDERS',
                state: { messages: 1, bytes: 1, consumer_count: 1 },
                consumer_detail: [
                  {
                    name: 'inventory',
                    num_pending: 0,
                    num_ack_pending: 0,
                    num_redelivered: 0,
                    num_waiting: 0,
                  },
                ],
              },
            ],
          },
        ],
      },
    },
  ])
  for (const m of nats.matchAll(/^# TYPE (\S+) /gm)) if (m[1] !== undefined) names.add(m[1])
  return names
}

/** The metric names docs/operations.md documents (backticked in its tables). */
function documentedNames(): Set<string> {
  const doc = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8')
  const metricsSection = doc.slice(doc.indexOf('## Metrics'), doc.indexOf('## Traces'))
  return new Set(
    metricsSection
      .split('\n')
      .filter((l) => l.startsWith('| `'))
      .flatMap((l) => [...(l.split('|')[1] ?? '').matchAll(/`([a-z_:]+)`/g)].map((m) => m[1] ?? '')),
  )
}

const provisionedUid = /^\s*uid:\s*(\S+)\s*$/m.exec(
  readFileSync(join(ROOT, 'scripts/container/grafana/provisioning/datasources/prometheus.yml'), 'utf8'),
)?.[1]

describe('the Grafana dashboard', () => {
  it('has a uid, a title and a schema version Grafana migrates from', () => {
    expect(dashboard.uid).toBe('order-saga')
    expect(dashboard.title).toBe('Order saga')
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36)
    expect(panels.length).toBeGreaterThan(10)
  })

  it('lays its panels out on the 24-column grid with unique ids and no overlap', () => {
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length)
    const cells = new Set<string>()
    for (const { gridPos: g, title } of panels) {
      expect(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0, title).toBe(true)
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${title} overlaps at ${x},${y}`).toBe(false)
          cells.add(`${x},${y}`)
        }
    }
  })

  it('queries the provisioned Prometheus data source from every panel and target', () => {
    expect(provisionedUid).toBe('order-saga-prometheus')
    for (const panel of panels.filter((p) => p.type !== 'row')) {
      expect(panel.datasource?.uid, panel.title).toBe(provisionedUid)
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0)
      for (const t of panel.targets ?? []) {
        expect(t.datasource?.uid, panel.title).toBe(provisionedUid)
        expect(t.expr.trim(), panel.title).not.toBe('')
      }
      const refIds = (panel.targets ?? []).map((t) => t.refId)
      expect(new Set(refIds).size, panel.title).toBe(refIds.length)
    }
  })

  it('queries only metrics the code registers and docs/operations.md documents', () => {
    const registered = registeredNames()
    const documented = documentedNames()
    const base = (name: string) => name.replace(/_(bucket|sum|count)$/, '')
    const used = panels.flatMap((p) => (p.targets ?? []).flatMap((t) => metricNames(t.expr)))
    expect(used.length).toBeGreaterThan(20)
    for (const name of new Set(used)) {
      const known = registered.has(name) || registered.has(base(name)) || documented.has(name)
      expect(known, `${name} is registered by the code`).toBe(true)
      expect(documented.has(name) || documented.has(base(name)), `${name} is documented`).toBe(true)
    }
  })

  it('documents every metric the code registers', () => {
    const documented = documentedNames()
    const undocumented = [...registeredNames()].filter(
      (name) => !documented.has(name) && !/^(process_|nodejs_)/.test(name),
    )
    expect(undocumented).toStrictEqual([])
  })

  it("uses only values of Grafana's enums where its types name one", () => {
    const values = (e: object) => Object.values(e) as unknown[]
    const enums: [string, unknown[]][] = [
      ['fieldConfig.defaults.thresholds.mode', values(ThresholdsMode)],
      ['fieldConfig.defaults.custom.stacking.mode', values(StackingMode)],
      ['options.legend.displayMode', values(LegendDisplayMode)],
      ['options.tooltip.mode', values(TooltipDisplayMode)],
      ['options.tooltip.sort', values(SortOrder)],
      ['options.displayMode', values(BarGaugeDisplayMode)],
      ['options.orientation', values(VizOrientation)],
      ['options.colorMode', values(BigValueColorMode)],
      ['options.graphMode', values(BigValueGraphMode)],
      ['options.textMode', values(BigValueTextMode)],
    ]
    const at = (o: unknown, path: string): unknown =>
      path
        .split('.')
        .reduce<unknown>(
          (v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined),
          o,
        )
    let checked = 0
    for (const panel of dashboardJson.panels)
      for (const [path, allowed] of enums) {
        const value = at(panel, path)
        if (value === undefined) continue
        checked++
        expect(allowed, `${panel.title}: ${path}`).toContain(value)
      }
    expect(checked).toBeGreaterThan(30)
    expect(values(DashboardCursorSync)).toContain(dashboard.graphTooltip)
  })

  it('reads metric names out of PromQL', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le, status) (rate(order_saga_duration_seconds_bucket{a="x(y)"}[5m])))',
      ),
    ).toStrictEqual(['order_saga_duration_seconds_bucket'])
    expect(metricNames('max by (consumer) (consumer_pending_messages) * 60')).toStrictEqual([
      'consumer_pending_messages',
    ])
  })
})
