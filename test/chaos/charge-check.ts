// Money as the processor's own ledger has it (`GET /charges`, refunds
// included), read once every order is final. Chaos gateways run with
// GATEWAY_LEDGER_FILE, so a sandbox killed with -9 comes back knowing every
// charge it took. Reconciliation may still be refunding charges that surfaced
// after their order was cancelled: the invariant is waited for, bounded.
import { waitFor, WaitForTimeoutError } from '../harness/wait-for.ts'
import { ledgerCharges, moneyViolations, type LedgerCharge } from '../support/money.ts'
import { bearer } from '../support/provision.ts'
import type { OrderView } from '../support/saga-stack.ts'
import type { GatewaySnapshot } from './faults.ts'
import { mapLimit } from './final-states.ts'
import { sample, type CheckResult } from './report.ts'

export interface MoneyCheckInput {
  gatewayUrl: string
  /** The final orders. */
  views: ReadonlyMap<string, OrderView>
  /** Every order a client got a 202 for (final or not). */
  acceptedIds: ReadonlySet<string>
  /** `GET /charges` of each gateway process just before it was killed. */
  snapshotsBeforeKill: readonly GatewaySnapshot[]
  /** Reads orders again (their refunds reach the projection after the processor made them). */
  readViews: (orderIds: readonly string[]) => Promise<ReadonlyMap<string, OrderView>>
  /** How long the invariant and the records of refunds may take to settle. */
  settleMs: number
}

export interface MoneyReport {
  checks: CheckResult[]
  /** The ledger as last read. */
  charges: LedgerCharge[]
}

const refundedCents = (c: LedgerCharge): number => c.amountRefundedCents ?? 0

/** Waits up to `timeoutMs` for `read` to give a value `done` accepts; returns the last one either way. */
async function settle<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
): Promise<{ value: T; afterMs: number | undefined }> {
  const started = Date.now()
  let last: T | undefined
  try {
    await waitFor(
      async () => {
        last = await read()
        return done(last)
      },
      { timeoutMs, intervalMs: 250, message: 'money settled' },
    )
    return { value: last as T, afterMs: Date.now() - started }
  } catch (error) {
    if (!(error instanceof WaitForTimeoutError) || last === undefined) throw error
    return { value: last, afterMs: undefined }
  }
}

/** Whether the processor is still working on a charge under the order's key (`GET /charge-attempts/{key}`). */
async function stillProcessing(gatewayUrl: string, orderId: string): Promise<boolean> {
  const res = await fetch(`${gatewayUrl}/charge-attempts/${encodeURIComponent(orderId)}`, {
    headers: bearer('gateway'),
    signal: AbortSignal.timeout(5_000),
  })
  if (res.status === 404) return false
  if (res.status !== 200) throw new Error(`GET /charge-attempts/${orderId}: ${res.status}`)
  return ((await res.json()) as { status?: string }).status === 'processing'
}

/**
 * A cancelled order's charge may still be in the processor's hands (a slow
 * attempt its worker gave up on): it lands later and is refunded by
 * reconciliation. Waits for every such attempt to be decided; returns the
 * orders whose attempt never was.
 */
async function waitForAttempts(input: MoneyCheckInput, cancelled: readonly string[]): Promise<string[]> {
  let open = [...cancelled]
  await settle(
    async () => {
      const busy = await mapLimit(open, 16, (id) => stillProcessing(input.gatewayUrl, id))
      open = open.filter((_, i) => busy[i])
      return open
    },
    (left) => left.length === 0,
    input.settleMs,
  )
  return open
}

export async function checkMoney(input: MoneyCheckInput): Promise<MoneyReport> {
  const { views, acceptedIds } = input
  const finals = [...views.values()]
  const undecided = await waitForAttempts(
    input,
    finals.filter((v) => v.status === 'cancelled').map((v) => v.orderId),
  )
  const money = await settle(
    async () => {
      const charges = await ledgerCharges(input.gatewayUrl)
      return { charges, violations: moneyViolations(finals, charges, acceptedIds) }
    },
    (read) => read.violations.length === 0,
    input.settleMs,
  )
  const { charges, violations } = money.value
  const byOrder = new Map<string, LedgerCharge[]>()
  for (const c of charges) byOrder.set(c.orderId, [...(byOrder.get(c.orderId) ?? []), c])

  const chargedTwice = [...byOrder].filter(([, list]) => list.length > 1).map(([id]) => id)
  const confirmedWrong: string[] = []
  const cancelledCharged: string[] = []
  for (const view of finals) {
    const own = byOrder.get(view.orderId) ?? []
    if (view.status === 'confirmed') {
      const [charge] = own
      if (own.length !== 1 || charge === undefined)
        confirmedWrong.push(`${view.orderId}: ${own.length} charges`)
      else if (charge.id !== view.chargeId)
        confirmedWrong.push(`${view.orderId}: charge ${charge.id}, order says ${view.chargeId ?? '-'}`)
      else if (charge.amountCents !== view.amountCents)
        confirmedWrong.push(
          `${view.orderId}: charged ${charge.amountCents}, order ${view.amountCents ?? '-'}`,
        )
    } else if (own.length > 0) cancelledCharged.push(view.orderId)
  }
  const chargedNotFinal = [...acceptedIds].filter((id) => !views.has(id) && byOrder.has(id))
  const shown = await refundsShown(input, cancelledCharged, byOrder)

  const confirmed = finals.filter((v) => v.status === 'confirmed').length
  const refunded = charges.filter((c) => refundedCents(c) > 0).length
  const settledIn = money.afterMs === undefined ? '' : `, held after ${(money.afterMs / 1000).toFixed(1)} s`
  const checks: CheckResult[] = [
    {
      check: 'cancelled orders: the processor decided every charge attempt',
      ok: undecided.length === 0,
      detail: undecided.length === 0 ? 'none still processing' : `still processing: ${sample(undecided)}`,
    },
    {
      check: 'money: captured - refunded = amount (confirmed) or 0 (cancelled), per processor ledger',
      ok: violations.length === 0,
      detail:
        violations.length === 0
          ? `${finals.length} final orders, ${charges.length} charges, ${refunded} refunded${settledIn}`
          : `${violations.length}: ${sample(violations, 3)}`,
    },
    {
      check: 'confirmed orders: exactly one charge, its id and amount',
      ok: confirmedWrong.length === 0,
      detail: confirmedWrong.length === 0 ? `${confirmed} confirmed` : sample(confirmedWrong, 3),
    },
    {
      check: 'no order charged twice',
      ok: chargedTwice.length === 0,
      detail: chargedTwice.length === 0 ? `${byOrder.size} orders charged` : sample(chargedTwice),
    },
    {
      check: 'no charge for an order that never became final',
      ok: chargedNotFinal.length === 0,
      detail: chargedNotFinal.length === 0 ? 'none' : sample(chargedNotFinal),
    },
    {
      check: 'cancelled orders charged: their record shows the refund',
      ok: shown.missing.length === 0,
      detail:
        shown.missing.length === 0
          ? `${cancelledCharged.length} charged then refunded (${shown.byReconciliation} by reconciliation)`
          : sample(shown.missing, 3),
    },
  ]
  if (input.snapshotsBeforeKill.length > 0) checks.push(ledgerKept(input.snapshotsBeforeKill, charges))
  return { checks, charges }
}

/** Every charge of these cancelled orders appears among the refunds `GET /orders/{id}` shows. */
async function refundsShown(
  input: MoneyCheckInput,
  orderIds: readonly string[],
  byOrder: ReadonlyMap<string, readonly LedgerCharge[]>,
): Promise<{ missing: string[]; byReconciliation: number }> {
  const missingOf = (views: ReadonlyMap<string, OrderView>): string[] =>
    orderIds.flatMap((id) => {
      const refunds = views.get(id)?.refunds ?? []
      return (byOrder.get(id) ?? [])
        .filter((c) => !refunds.some((r) => r.chargeId === c.id))
        .map((c) => `${id}: refund of ${c.id} not shown`)
    })
  if (orderIds.length === 0) return { missing: [], byReconciliation: 0 }
  const { value: views } = await settle(
    () => input.readViews(orderIds),
    (read) => missingOf(read).length === 0,
    input.settleMs,
  )
  const byReconciliation = orderIds.filter((id) =>
    views.get(id)?.refunds?.some((r) => r.reason === 'reconciliation'),
  ).length
  return { missing: missingOf(views), byReconciliation }
}

/** What a killed sandbox held is still in the ledger after its restart, refunds included. */
function ledgerKept(snapshots: readonly GatewaySnapshot[], charges: readonly LedgerCharge[]): CheckResult {
  const now = new Map(charges.map((c) => [c.id, c]))
  const before = snapshots.flat()
  const lost = before.filter((c) => {
    const after = now.get(c.id)
    return (
      after === undefined ||
      after.amountCents !== c.amountCents ||
      refundedCents(after) < (c.amountRefundedCents ?? 0)
    )
  })
  return {
    check: 'killed gateway: the ledger file kept every charge and refund',
    ok: lost.length === 0,
    detail:
      lost.length === 0
        ? `${before.length} charges seen before ${snapshots.length} kill(s), all there after`
        : `lost or changed: ${sample(lost.map((c) => c.id))}`,
  }
}
