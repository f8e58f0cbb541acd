// How long the system took to serve again after each fault, from what it
// answered: the first 202 to a request sent after the fault ended, and the
// first confirmation (the projection's time) of an order first sent after it.
import type { OrderView } from '../support/saga-stack.ts'
import type { PlacedOrder } from './client.ts'
import { formatTable, ms, seconds } from './report.ts'

export interface FaultRecord {
  name: string
  startedAt: number
  /** When the fault was over (process back, node killed, gateway back). */
  endedAt: number
  notes: string[]
}

export interface Recovery {
  fault: FaultRecord
  first202Ms: number | undefined
  firstConfirmMs: number | undefined
  /** Requests that got a 503 or a network error between the fault's start and that first 202. */
  failedAttempts: number
}

function confirmedAt(view: OrderView | undefined): number | undefined {
  const at = view?.history.find((h) => h.status === 'confirmed')?.at
  return at === undefined ? undefined : Date.parse(at)
}

export function measureRecovery(
  faults: readonly FaultRecord[],
  orders: readonly PlacedOrder[],
  views: ReadonlyMap<string, OrderView>,
): Recovery[] {
  const attempts = orders.flatMap((o) => o.attempts)
  return faults.map((fault) => {
    const accepted = attempts
      .filter((a) => a.outcome === 'accepted' && a.startedAt >= fault.endedAt)
      .map((a) => a.endedAt)
    const first202 = accepted.length === 0 ? undefined : Math.min(...accepted)
    const confirmed = orders
      .filter((o) => (o.attempts[0]?.startedAt ?? 0) >= fault.endedAt && o.orderId !== undefined)
      .map((o) => confirmedAt(views.get(o.orderId ?? '')))
      .filter((t): t is number => t !== undefined)
    const until = first202 ?? Number.POSITIVE_INFINITY
    const failedAttempts = attempts.filter(
      (a) =>
        (a.outcome === 'unavailable' || a.outcome === 'network_error') &&
        a.startedAt >= fault.startedAt &&
        a.startedAt < until,
    ).length
    return {
      fault,
      first202Ms: first202 === undefined ? undefined : first202 - fault.endedAt,
      firstConfirmMs: confirmed.length === 0 ? undefined : Math.min(...confirmed) - fault.endedAt,
      failedAttempts,
    }
  })
}

export function recoveryTable(recoveries: readonly Recovery[], loadStartedAt: number): string {
  return formatTable(
    [
      'fault',
      'at s',
      'lasted ms',
      'first 202 after ms',
      'first new confirm after ms',
      'failed requests',
      'notes',
    ],
    recoveries.map((r) => [
      r.fault.name,
      seconds(r.fault.startedAt - loadStartedAt),
      ms(r.fault.endedAt - r.fault.startedAt),
      ms(r.first202Ms),
      ms(r.firstConfirmMs),
      String(r.failedAttempts),
      r.fault.notes.join('; '),
    ]),
  )
}
