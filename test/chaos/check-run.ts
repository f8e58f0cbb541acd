// Every invariant of one run, checked from what the system answered once the
// load and the faults are over. A check that throws is a failed check.
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import type { OrderView } from '../support/saga-stack.ts'
import type { LedgerCharge } from '../support/money.ts'
import { checkMoney } from './charge-check.ts'
import type { PlacedOrder } from './client.ts'
import { checkDeadLetters } from './dead-letter-check.ts'
import type { FaultContext } from './faults.ts'
import { readViews, type FinalStates } from './final-states.ts'
import type { CatalogEntry } from './order-mix.ts'
import type { CheckResult } from './report.ts'
import { checkStock } from './stock-check.ts'
import type { StockSamples } from './stock-sampler.ts'
import { checkEvents } from './event-check.ts'
import { checkConsumersDrained, readSagaEvents } from './stream-check.ts'
import { permissionViolations } from '../harness/lines.ts'
import { CARD_TOKEN, findInStreams } from '../support/secret-scan.ts'

export interface RunOutcome {
  ctx: FaultContext
  js: JetStreamClient
  jsm: JetStreamManager
  catalog: readonly CatalogEntry[]
  orders: readonly PlacedOrder[]
  /** Orders that had no 202 when the load ended (asked again afterwards). */
  reconciled: number
  final: FinalStates
  samples: StockSamples
  injectError: Error | undefined
  /** The scenario's own checks, run last. */
  scenarioChecks?: (input: ScenarioCheckInput) => CheckResult[]
}

/** What a scenario's own checks read. */
export interface ScenarioCheckInput {
  ctx: FaultContext
  orders: readonly PlacedOrder[]
  /** Every accepted order as `GET /orders/{id}` shows it once the money settled. */
  views: ReadonlyMap<string, OrderView>
  /** The processor's ledger, refunds included. */
  charges: readonly LedgerCharge[]
  /** The output of every gateway process of the run, killed ones included. */
  gatewayLines: () => string[]
}

/** How long reconciliation may take to refund charges that surfaced late, after every order is final. */
const MONEY_SETTLE_MS = 30_000

async function guarded(name: string, fn: () => Promise<CheckResult[]>): Promise<CheckResult[]> {
  try {
    return await fn()
  } catch (error) {
    const detail = `threw: ${error instanceof Error ? error.message : String(error)}`.slice(0, 300)
    return [{ check: name, ok: false, detail }]
  }
}

function describeFinal(final: FinalStates, accepted: number): string {
  if (final.open.length === 0) {
    return `${accepted}/${accepted} final ${Math.round((final.settledAfterMs ?? 0) / 1000)} s after the load`
  }
  const some = final.open.slice(0, 3).map((o) => `${o.orderId} ${o.status}`)
  return `${final.open.length} not final (${final.gaveUp ?? 'deadline passed'}): ${some.join(', ')}`
}

export async function checkRun(run: RunOutcome): Promise<{ checks: CheckResult[]; stockTable: string }> {
  const { ctx, js, jsm, final } = run
  const { stack } = ctx
  const views: ReadonlyMap<string, OrderView> = final.views
  const acceptedIds = new Set(run.orders.flatMap((o) => (o.orderId === undefined ? [] : [o.orderId])))
  const checks: CheckResult[] = [
    {
      check: 'faults injected as planned',
      ok: run.injectError === undefined,
      detail: run.injectError?.message.slice(0, 200) ?? `${ctx.faults.length} faults`,
    },
    {
      check: 'every 202 order final, none lost',
      ok: final.open.length === 0,
      detail: describeFinal(final, acceptedIds.size),
    },
    {
      check: 'every order got an answer',
      ok: acceptedIds.size === run.orders.length,
      detail: `${acceptedIds.size}/${run.orders.length} got 202 (${run.reconciled} asked again after the load)`,
    },
  ]
  let charges: LedgerCharge[] = []
  const readOrders = (ids: readonly string[]) => readViews(stack.order.url, ids)
  checks.push(
    ...(await guarded('processor ledger readable', async () => {
      const money = await checkMoney({
        gatewayUrl: stack.gateway.url,
        views,
        acceptedIds,
        snapshotsBeforeKill: ctx.gatewaySnapshots,
        readViews: readOrders,
        settleMs: MONEY_SETTLE_MS,
      })
      charges = money.charges
      return money.checks
    })),
  )
  let stockTable = ''
  checks.push(
    ...(await guarded('stock readable', async () => {
      // Stuck orders hold their stock for good: no point waiting long for it to be released.
      const releaseMs = final.open.length > 0 ? 3_000 : 20_000
      const inventoryUrl = (): string => stack.inventories[0]?.url ?? ''
      const report = await checkStock(inventoryUrl, run.catalog, views, run.samples, releaseMs)
      stockTable = report.table
      return report.checks
    })),
  )
  const poisonSeqs = new Set(ctx.poison.map((p) => p.seq))
  checks.push(
    ...(await guarded('ORDERS stream readable', async () => {
      const drained = await checkConsumersDrained(jsm)
      const events = await readSagaEvents(js, jsm, poisonSeqs, 30_000)
      // Read again now that nothing is in flight: late events (inventory.released) are in the history too.
      const settled = await readViews(stack.order.url, [...acceptedIds])
      return [...checkEvents(events, acceptedIds, settled), ...drained]
    })),
    ...(await guarded('DLQ readable', async () => (await checkDeadLetters(jsm, ctx.poison)).checks)),
    ...(await guarded('secrets kept', () => checkSecurity(ctx))),
  )
  const scenarioChecks = run.scenarioChecks
  if (scenarioChecks !== undefined) {
    const gateways = [
      ...ctx.retired.filter((r) => r.worker === 'gateway').map((r) => r.handle),
      stack.gateway.handle,
    ]
    checks.push(
      ...(await guarded('scenario checks', async () =>
        scenarioChecks({
          ctx,
          orders: run.orders,
          views: await readOrders([...acceptedIds]),
          charges,
          gatewayLines: () => gateways.flatMap((h) => h.lines()),
        }),
      )),
    )
  }
  return { checks, stockTable }
}

/** Least privilege held (no refusal in any server log) and no card token reached a stream, KV record or log line. */
async function checkSecurity(ctx: FaultContext): Promise<CheckResult[]> {
  const { stack } = ctx
  const serverLogs = 'server' in stack ? [stack.server.log()] : stack.cluster.nodes.map((n) => n.log())
  const violations = serverLogs.flatMap(permissionViolations)
  const stored = await findInStreams(ctx.nc, CARD_TOKEN)
  const processes = [...stack.started.map((p) => p.handle), ...ctx.retired.map((r) => r.handle)]
  const logged = processes.flatMap((h) => h.lines()).filter((line) => CARD_TOKEN.test(line))
  return [
    {
      check: 'no permission violation on any server',
      ok: violations.length === 0,
      detail: violations[0]?.slice(0, 200) ?? `${serverLogs.length} server log(s) without a refusal`,
    },
    {
      check: 'no card token in a stream, KV record or log line',
      ok: stored.length === 0 && logged.length === 0,
      detail:
        stored.length + logged.length === 0
          ? `${processes.length} process logs and every stream searched`
          : `${stored.slice(0, 3).join(', ')} ${logged[0]?.slice(0, 150) ?? ''}`,
    },
  ]
}
