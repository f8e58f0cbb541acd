// Charges as the gateway saw them: the live sandbox's `GET /charges?orderId=`,
// plus, for a sandbox that was killed, the charges it logged before it died
// (its ledger lived in memory; every succeeded charge is logged before the answer).
import type { OrderView } from '../support/saga-stack.ts'
import { mapLimit } from './final-states.ts'
import { sample, type CheckResult } from './report.ts'
import { bearer } from '../support/provision.ts'

export interface LedgerCharge {
  id: string
  orderId: string
  amountCents?: number
  /** 0 for the first gateway process, then one more per restart. */
  generation: number
  /** Whether that gateway process was killed (and its memory lost). */
  killed: boolean
}

/** The succeeded (not replayed) charges in a gateway's log lines. */
export function chargesFromGatewayLog(lines: readonly string[], generation: number): LedgerCharge[] {
  const charges: LedgerCharge[] = []
  for (const line of lines) {
    if (!line.includes('"charge attempt"') || !line.includes('"succeeded"')) continue
    const entry = JSON.parse(line) as {
      orderId?: string
      chargeId?: string
      outcome?: string
      replayed?: boolean
    }
    if (
      entry.outcome !== 'succeeded' ||
      entry.replayed === true ||
      entry.chargeId === undefined ||
      entry.orderId === undefined
    )
      continue
    charges.push({ id: entry.chargeId, orderId: entry.orderId, generation, killed: true })
  }
  return charges
}

interface ChargeView {
  id: string
  orderId: string
  amountCents: number
}

async function getCharges(gatewayUrl: string, orderId?: string): Promise<ChargeView[]> {
  const query = orderId === undefined ? '' : `?orderId=${encodeURIComponent(orderId)}`
  const res = await fetch(`${gatewayUrl}/charges${query}`, {
    headers: bearer('gateway'),
    signal: AbortSignal.timeout(5_000),
  })
  if (res.status !== 200) throw new Error(`GET /charges${query}: ${res.status}`)
  return ((await res.json()) as { charges: ChargeView[] }).charges
}

export interface GatewayHistory {
  gatewayUrl: string
  /** Log lines of every gateway process killed during the run, oldest first. */
  killedLogs: readonly (readonly string[])[]
  /** `GET /charges` taken just before each kill: must be within what that process logged. */
  snapshotsBeforeKill: readonly (readonly ChargeView[])[]
}

/** `views`: the final orders; `acceptedIds`: every order a client got a 202 for (final or not). */
export async function checkCharges(
  views: ReadonlyMap<string, OrderView>,
  acceptedIds: ReadonlySet<string>,
  history: GatewayHistory,
): Promise<{ checks: CheckResult[]; charged: number }> {
  const live = history.killedLogs.length
  const dead = history.killedLogs.flatMap((lines, gen) => chargesFromGatewayLog(lines, gen))
  const byOrder = new Map<string, LedgerCharge[]>()
  const add = (c: LedgerCharge): void => void byOrder.set(c.orderId, [...(byOrder.get(c.orderId) ?? []), c])
  dead.forEach(add)
  const orderIds = [...acceptedIds]
  const liveLists = await mapLimit(orderIds, 16, (id) => getCharges(history.gatewayUrl, id))
  liveLists.flat().forEach((c) => add({ ...c, generation: live, killed: false }))
  const allLive = await getCharges(history.gatewayUrl)
  const unknown = [...allLive.map((c) => c.orderId), ...dead.map((c) => c.orderId)].filter(
    (id) => !acceptedIds.has(id),
  )

  const confirmedWithout: string[] = []
  const wrongChargeId: string[] = []
  const wrongAmount: string[] = []
  const sameGatewayTwice: string[] = []
  const rechargedAfterMemoryLoss: string[] = []
  const cancelledCharged: string[] = []
  const cancelledChargedByKilled: string[] = []
  for (const [orderId, view] of views) {
    const charges = byOrder.get(orderId) ?? []
    const perGeneration = new Map<number, number>()
    for (const c of charges) perGeneration.set(c.generation, (perGeneration.get(c.generation) ?? 0) + 1)
    if ([...perGeneration.values()].some((n) => n > 1)) sameGatewayTwice.push(orderId)
    if (view.status === 'confirmed') {
      if (charges.length === 0) confirmedWithout.push(orderId)
      else if (charges.length > 1) rechargedAfterMemoryLoss.push(orderId)
      if (charges.length > 0 && !charges.some((c) => c.id === view.chargeId)) wrongChargeId.push(orderId)
      const liveCharge = charges.find((c) => !c.killed)
      if (liveCharge?.amountCents !== undefined && liveCharge.amountCents !== view.amountCents)
        wrongAmount.push(orderId)
    } else if (charges.length > 0) {
      if (charges.every((c) => c.killed)) cancelledChargedByKilled.push(orderId)
      else cancelledCharged.push(orderId)
    }
  }
  const chargedNotFinal = orderIds.filter((id) => !views.has(id) && (byOrder.get(id)?.length ?? 0) > 0)
  const snapshotGaps = history.snapshotsBeforeKill.flatMap((snapshot, gen) => {
    const logged = new Set(chargesFromGatewayLog(history.killedLogs[gen] ?? [], gen).map((c) => c.id))
    return snapshot.filter((c) => !logged.has(c.id)).map((c) => c.id)
  })
  const checks: CheckResult[] = [
    {
      check: 'confirmed orders: exactly one charge',
      ok: confirmedWithout.length === 0,
      detail:
        confirmedWithout.length === 0
          ? `${[...views.values()].filter((v) => v.status === 'confirmed').length} confirmed, each charged`
          : `no charge: ${sample(confirmedWithout)}`,
    },
    {
      check: 'no order charged twice by one gateway',
      ok: sameGatewayTwice.length === 0,
      detail: sameGatewayTwice.length === 0 ? `${byOrder.size} orders charged` : sample(sameGatewayTwice),
    },
    {
      check: 'cancelled orders: no charge',
      ok: cancelledCharged.length === 0,
      detail: cancelledCharged.length === 0 ? 'none charged' : sample(cancelledCharged),
    },
    {
      check: 'no charge for an order that never became final',
      ok: chargedNotFinal.length === 0,
      detail: chargedNotFinal.length === 0 ? 'none' : sample(chargedNotFinal),
    },
    {
      check: 'charge id and amount match the order',
      ok: wrongChargeId.length === 0 && wrongAmount.length === 0,
      detail:
        wrongChargeId.length + wrongAmount.length === 0
          ? 'all match'
          : `id: ${sample(wrongChargeId)}; amount: ${sample(wrongAmount)}`,
    },
    {
      check: 'no charge for an order no client placed',
      ok: unknown.length === 0,
      detail: unknown.length === 0 ? 'none' : sample(unknown),
    },
  ]
  if (history.killedLogs.length > 0) {
    checks.push(
      {
        check: 'killed gateway: its log covers its ledger',
        ok: snapshotGaps.length === 0,
        detail:
          snapshotGaps.length === 0
            ? `${dead.length} charges logged by ${history.killedLogs.length} killed process(es)`
            : `not logged: ${sample(snapshotGaps)}`,
      },
      // Sandbox artefacts, reported, not failed: a real processor keeps its idempotency keys across a restart.
      {
        check: 'charged again after the sandbox lost its memory (sandbox)',
        ok: true,
        detail: rechargedAfterMemoryLoss.length === 0 ? 'none' : sample(rechargedAfterMemoryLoss),
      },
      {
        check: 'charged by a killed gateway, then cancelled (README known limit)',
        ok: true,
        detail: cancelledChargedByKilled.length === 0 ? 'none' : sample(cancelledChargedByKilled),
      },
    )
  }
  return { checks, charged: byOrder.size }
}
