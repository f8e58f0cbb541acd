// Scenarios where money is at stake: a processor that answers late, loses
// its answers, is down past the payment worker's settle budget or is killed
// with -9, and a payment worker down past the orders' deadline. Every run
// also checks the money invariant against the processor's ledger
// (charge-check.ts); these add what each scenario is about.
import type { ScenarioCheckInput } from './check-run.ts'
import { atOffset, gatewayOutage, killAndRevive, schedule, type FaultContext } from './faults.ts'
import { sample, type CheckResult } from './report.ts'
import type { ChaosScenario } from './scenarios.ts'

/** The chaos stack's PAYMENT_TIMEOUT_MS (test/support/saga-stack.ts). */
const PAYMENT_TIMEOUT_MS = 500
const SLOW_MS = 2_000
/** processor-down: the payment worker's settle budget there, and a slow charge that outlasts it. */
const SHORT_SETTLE_BUDGET_MS = 3_000
const PAST_BUDGET_MS = 4_000
/** payment-past-deadline: ORDER_DEADLINE_MS there. */
const DEADLINE_MS = 5_000

/** A fault that lasts the whole load (a processor setting): recorded at its start. */
function wholeLoad(ctx: FaultContext, name: string): Promise<void> {
  ctx.faults.push({ name, startedAt: ctx.loadStartedAt, endedAt: ctx.loadStartedAt, notes: ['whole load'] })
  return Promise.resolve()
}

const count = (lines: readonly string[], ...needles: string[]): number =>
  lines.filter((l) => needles.every((n) => l.includes(n))).length

function happened(check: string, n: number, what: string): CheckResult {
  return { check, ok: n > 0, detail: `${n} ${what}` }
}

/** The processor answered every charge within the settle budget: no order was left unresolved. */
function noneUnresolved({ views }: ScenarioCheckInput): CheckResult {
  const failed = [...views.values()].filter((v) => v.reason === 'payment_failed').map((v) => v.orderId)
  return {
    check: 'no order cancelled payment_failed (every charge settled within the budget)',
    ok: failed.length === 0,
    detail: failed.length === 0 ? 'none' : `${failed.length}: ${sample(failed, 3)}`,
  }
}

const processorSlow: ChaosScenario = {
  name: 'processor-slow',
  title: () =>
    `20% of charges answered after ${SLOW_MS} ms, past the payment worker's ${PAYMENT_TIMEOUT_MS} ms timeout`,
  cluster: false,
  stackOptions: { gatewayEnv: { GATEWAY_SLOW_RATE: '0.2', GATEWAY_SLOW_MS: String(SLOW_MS) } },
  inject: (ctx) => wholeLoad(ctx, `processor slow (20%, ${SLOW_MS} ms)`),
  check: (input) => [
    happened(
      'slow charges went on after their client timed out',
      count(input.gatewayLines(), 'charge client went away'),
      'requests left before their answer',
    ),
    noneUnresolved(input),
  ],
}

const processorDrops: ChaosScenario = {
  name: 'processor-drops',
  title: () => '20% of charges written then the connection reset, 20% written then answered 500',
  cluster: false,
  stackOptions: { gatewayEnv: { GATEWAY_DROP_RATE: '0.2', GATEWAY_ERROR_AFTER_CHARGE_RATE: '0.2' } },
  inject: (ctx) => wholeLoad(ctx, 'processor drops answers (20% reset, 20% 500)'),
  check: (input) => {
    const lines = input.gatewayLines()
    const dropped = count(lines, '"charge attempt"', '"delivery":"drop"')
    const errored = count(lines, '"charge attempt"', '"delivery":"error"')
    return [
      {
        check: 'answers lost after the charge was written (reset, 500)',
        ok: dropped > 0 && errored > 0,
        detail: `${dropped} reset, ${errored} answered 500`,
      },
      noneUnresolved(input),
    ]
  },
}

const processorDown: ChaosScenario = {
  name: 'processor-down',
  title: (p) =>
    `gateway killed for ${p.processorDownMs} ms, past the ${SHORT_SETTLE_BUDGET_MS} ms settle budget, ` +
    `then back with its ledger file; 10% of charges answered after ${PAST_BUDGET_MS} ms`,
  cluster: false,
  stackOptions: {
    gatewayEnv: { GATEWAY_SLOW_RATE: '0.1', GATEWAY_SLOW_MS: String(PAST_BUDGET_MS) },
    paymentEnv: {
      PAYMENT_SETTLE_BUDGET_MS: String(SHORT_SETTLE_BUDGET_MS),
      PAYMENT_SETTLE_POLL_MS: '200',
      PAYMENT_RECONCILE_INTERVAL_MS: '250',
      PAYMENT_RECONCILE_MAX_BACKOFF_MS: '1000',
    },
  },
  async inject(ctx) {
    await atOffset(ctx, Math.round(ctx.profile.durationMs * 0.15))
    await gatewayOutage(ctx, ctx.profile.processorDownMs)
  },
  check: ({ views }) => {
    const all = [...views.values()]
    const unresolved = all.filter((v) => v.reason === 'payment_failed').length
    const reconciled = all.filter((v) => v.refunds?.some((r) => r.reason === 'reconciliation')).length
    return [
      happened('orders left unresolved past the settle budget', unresolved, 'cancelled payment_failed'),
      happened('charges found later refunded by reconciliation', reconciled, 'orders refunded'),
    ]
  },
}

const paymentPastDeadline: ChaosScenario = {
  name: 'payment-past-deadline',
  title: (p) => `payment worker killed for ${p.paymentDownMs} ms, past the ${DEADLINE_MS} ms order deadline`,
  cluster: false,
  stackOptions: { workerEnv: { ORDER_DEADLINE_MS: String(DEADLINE_MS) } },
  async inject(ctx) {
    await atOffset(ctx, Math.round(ctx.profile.durationMs * 0.15))
    await killAndRevive(ctx, ctx.stack.payment, ctx.profile.paymentDownMs)
  },
  check: (input) => [deadlinesKept(input)],
}

/**
 * Orders first sent after the payment worker was killed whose deadline
 * passed before it could be back: each cancelled deadline_exceeded (or out
 * of stock), and none charged, not even once the worker came back.
 */
function deadlinesKept({ ctx, orders, views, charges }: ScenarioCheckInput): CheckResult {
  const check = 'orders placed while payment was down past their deadline: cancelled, never charged'
  const fault = ctx.faults[0]
  if (fault === undefined) return { check, ok: false, detail: 'no fault recorded' }
  const backFrom = fault.startedAt + ctx.profile.paymentDownMs
  const due = orders.filter(
    (o) =>
      (o.attempts[0]?.startedAt ?? 0) >= fault.startedAt &&
      o.acceptedAt !== undefined &&
      o.acceptedAt + DEADLINE_MS <= backFrom,
  )
  const charged = new Set(charges.map((c) => c.orderId))
  const wrong: string[] = []
  const reasons = new Map<string, number>()
  for (const o of due) {
    const view = views.get(o.orderId ?? '')
    const reason = view?.status === 'cancelled' ? (view.reason ?? '?') : (view?.status ?? 'unread')
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1)
    if (reason !== 'deadline_exceeded' && reason !== 'out_of_stock') wrong.push(`${o.orderId} ${reason}`)
    if (charged.has(o.orderId ?? '')) wrong.push(`${o.orderId} charged`)
  }
  const tally = [...reasons].map(([r, n]) => `${n} ${r}`).join(', ')
  return {
    check,
    ok: due.length > 0 && wrong.length === 0,
    detail: wrong.length > 0 ? sample(wrong, 3) : `${due.length} orders: ${tally || 'none in the window'}`,
  }
}

const killGateway: ChaosScenario = {
  name: 'kill-gateway',
  title: (p) =>
    `kill -9 of the gateway sandbox (ledger file kept), ${p.faults}x, down ${p.workerDownMs} ms; ` +
    `20% of charges take ${SLOW_MS / 2} ms so kills catch some in flight`,
  cluster: false,
  stackOptions: { gatewayEnv: { GATEWAY_SLOW_RATE: '0.2', GATEWAY_SLOW_MS: String(SLOW_MS / 2) } },
  async inject(ctx) {
    for (const at of schedule(ctx.profile.faults, ctx.profile.durationMs)) {
      await atOffset(ctx, at)
      await gatewayOutage(ctx, ctx.profile.workerDownMs)
    }
  },
  check: (input) => [noneUnresolved(input)],
}

export const PROCESSOR_SCENARIOS: readonly ChaosScenario[] = [
  processorSlow,
  processorDrops,
  processorDown,
  paymentPastDeadline,
  killGateway,
]
