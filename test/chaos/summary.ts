// What the orders came to, by kind, and one line per scenario for the summary.
import type { OrderView } from '../support/saga-stack.ts'
import type { PlacedOrder } from './client.ts'
import type { OrderKind } from './order-mix.ts'
import type { Recovery } from './recovery.ts'
import { formatTable, ms } from './report.ts'

export interface ScenarioSummary {
  scenario: string
  orders: readonly PlacedOrder[]
  views: ReadonlyMap<string, OrderView>
  recoveries: readonly Recovery[]
  ok: boolean
  failed: number
  durationMs: number
}

/** Cancellation reasons the chaos load can end in. */
const REASONS = ['out_of_stock', 'payment_declined', 'payment_failed', 'deadline_exceeded'] as const
const OUTCOMES = ['confirmed', ...REASONS, 'not final', 'no 202'] as const
type Outcome = (typeof OUTCOMES)[number]

function outcomeOf(order: PlacedOrder, views: ReadonlyMap<string, OrderView>): Outcome {
  if (order.orderId === undefined) return 'no 202'
  const view = views.get(order.orderId)
  if (view === undefined) return 'not final'
  if (view.status === 'confirmed') return 'confirmed'
  return REASONS.find((r) => r === view.reason) ?? 'not final'
}

function count(orders: readonly PlacedOrder[], views: ReadonlyMap<string, OrderView>): Map<string, number> {
  const counts = new Map<string, number>()
  for (const o of orders) {
    const key = `${o.kind}/${outcomeOf(o, views)}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
    counts.set(`all/${outcomeOf(o, views)}`, (counts.get(`all/${outcomeOf(o, views)}`) ?? 0) + 1)
  }
  return counts
}

export function outcomeTable(orders: readonly PlacedOrder[], views: ReadonlyMap<string, OrderView>): string {
  const counts = count(orders, views)
  const kinds: (OrderKind | 'all')[] = [
    'good_card',
    'declined_card',
    'flaky_card',
    'short_sku',
    'short_multi',
    'all',
  ]
  const attempts = orders.flatMap((o) => o.attempts)
  const by = (outcome: string): number => attempts.filter((a) => a.outcome === outcome).length
  const rows = kinds.map((kind) => [
    kind,
    String(kind === 'all' ? orders.length : orders.filter((o) => o.kind === kind).length),
    ...OUTCOMES.map((outcome) => String(counts.get(`${kind}/${outcome}`) ?? 0)),
  ])
  const table = formatTable(['kind', 'sent', ...OUTCOMES], rows)
  const requests = `requests: ${attempts.length} (202: ${by('accepted')}, 503: ${by('unavailable')}, 429: ${by('rate_limited')}, network errors: ${by('network_error')}, other status: ${by('other_status')})`
  return `${table}\n${requests}\n${latencyLine(orders, views)}`
}

/** From the 202 to the projection's final state: how long customers waited. */
function latencyLine(orders: readonly PlacedOrder[], views: ReadonlyMap<string, OrderView>): string {
  const waits = orders
    .flatMap((o) => {
      const view = views.get(o.orderId ?? '')
      const at = view?.history.find((h) => h.status === 'confirmed' || h.status === 'cancelled')?.at
      return at === undefined || o.acceptedAt === undefined ? [] : [Date.parse(at) - o.acceptedAt]
    })
    .sort((a, b) => a - b)
  const pick = (q: number): string => ms(waits[Math.min(waits.length - 1, Math.floor(q * waits.length))])
  return `202 -> final: p50 ${pick(0.5)} ms, p99 ${pick(0.99)} ms, max ${pick(1)} ms (${waits.length} orders)`
}

export function summaryTable(summaries: readonly ScenarioSummary[]): string {
  return formatTable(
    [
      'scenario',
      '202',
      'confirmed',
      'cancelled',
      'not final',
      'faults',
      'worst first 202 ms',
      'worst first confirm ms',
      'took s',
      'result',
    ],
    summaries.map((s) => {
      const views = [...s.views.values()]
      const worst = (pick: (r: Recovery) => number | undefined): string => {
        const values = s.recoveries.map(pick)
        return values.some((v) => v === undefined) ? 'n/a' : ms(Math.max(0, ...(values as number[])))
      }
      const accepted = s.orders.filter((o) => o.orderId !== undefined).length
      return [
        s.scenario,
        String(accepted),
        String(views.filter((v) => v.status === 'confirmed').length),
        String(views.filter((v) => v.status === 'cancelled').length),
        String(accepted - views.length),
        String(s.recoveries.length),
        worst((r) => r.first202Ms),
        worst((r) => r.firstConfirmMs),
        (s.durationMs / 1000).toFixed(0),
        s.ok ? 'PASS' : `FAIL (${s.failed})`,
      ]
    }),
  )
}
