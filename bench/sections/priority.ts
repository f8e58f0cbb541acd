// 6. Priority lanes (docs/priority.md): express orders through a backlog of
// standard ones, against baselines measured in the same run.
// - Backlog: the standard lane's consumers are paused (nats-server consumer
//   pause) while `backlog` standard orders are placed, then resumed at once:
//   every stage (reserve, charge, project) has the backlog in front of it.
// - Express flow: `expressRate` orders/s with the admin key (`priority:
//   express`), sent from the resume until 90% of the backlog is confirmed, so
//   every one of them met at least 10% of it; POST-to-`confirmed` each.
// - Baselines: the same express flow on the idle stack; the same backlog
//   drained without express orders (standard confirmed/s between 10% and 90%
//   of the backlog confirmed). The two drains alternate from round to round.
// Two deployments: `priority`, the default one (one process per worker, both
// lanes, lane signals on), and `priority-split` (SPLIT_DEPLOYMENT: each lane
// in processes of its own, the standard ones at a lower CPU weight, no lane
// signals; docs/priority.md, "Each lane in processes of its own").
// BENCH_PRIORITY_WORKER_ENV=KEY=value,... gives every worker settings for a
// diagnostic run (recorded in the results); BENCH_PRIORITY_BACKLOG=n a smaller
// backlog for a quick one; the bench's figures use neither.
import { STREAMS } from '../../schemas/subjects.ts'
import type { SagaConsumerName } from '../../shared/nats/saga-consumers.ts'
import { waitFor } from '../../test/harness/wait-for.ts'
import type { BenchContext } from '../lib/context.ts'
import { watchLanes, type LaneWatcher } from '../lib/lane-watcher.ts'
import { placeBacklog, runExpressFlow, STAGES, type ExpressFlow, type Stages } from '../lib/lanes.ts'
import { currentLoad } from '../lib/machine.ts'
import { streamSequences, waitConsumersIdle } from '../lib/nats.ts'
import { cpuMs } from '../lib/processes.ts'
import {
  parseWorkerEnv,
  seedStock,
  SPREAD_SKUS,
  STACK_CONSUMERS,
  startSaga,
  type SagaStack,
} from '../lib/saga.ts'
import { percentile, ratioOf, toFigure, type Figure, type Ratio } from '../lib/stats.ts'

export interface ExpressFigures {
  p50: Figure
  p99: Figure
  max: Figure
  /** p99 over every round's orders together. */
  pooledP99: number
  /** Where the time went (all rounds' orders together), ms. */
  stages: Record<Stage, { p50: number; p99: number }>
  sent: number
  cancelled: number
  failed: number
  firstError?: string
}

export interface DrainRun {
  withExpress: boolean
  round: number
  /** Standard orders confirmed per second between 10% and 90% of the backlog confirmed. */
  standardPerSec: number
  /** Resume to the last standard order confirmed. */
  drainS: number
  /** How long placing the backlog took (202s). */
  placeS: number
  /** Express orders sent during this drain. */
  expressSent: number
  /** CPU ms per order of the drain (the backlog and the express orders sent meanwhile), by process. */
  cpuMsPerOrder: Record<string, number>
  /** 1-min load average when the drain started. */
  loadAtStart: number
}

export interface PriorityResult {
  backlog: number
  expressRate: number
  idleOrders: number
  rounds: number
  drainTimeoutMs: number
  /** BENCH_PRIORITY_WORKER_ENV: settings given to every worker in a diagnostic run (none normally). */
  workerEnv: Record<string, string>
  /** Each lane in its own processes, the standard ones at this nice (SPLIT_DEPLOYMENT, or BENCH_PRIORITY_SPLIT_LANES). */
  splitLanes?: { standardNice: number }
  /** The deployment's own worker settings (SPLIT_DEPLOYMENT's), as against a diagnostic run's `workerEnv`. */
  deploymentEnv?: Record<string, string>
  idle: ExpressFigures
  underBacklog: ExpressFigures
  plain: { perSec: Figure; drainS: Figure }
  withExpress: { perSec: Figure; drainS: Figure }
  /** Express p99 under the backlog ÷ idle (target <= 2). */
  p99Ratio: Ratio
  /** Standard confirmed/s with express ÷ without (target >= 0.9). */
  throughputRatio: Ratio
  drains: DrainRun[]
}

type Stage = keyof Stages

const STANDARD = [
  'order-status',
  'inventory',
  'inventory-payments',
  'payment',
] as const satisfies readonly SagaConsumerName[]

/**
 * The deployment of `priority-split`: inventory, payment and order-status
 * each run once per lane (CONSUMER_LANES), the standard processes at nice
 * 19 (theirs and their sessions', niceSession), and without the lane
 * signals (LANE_SIGNAL_HOLD_MS=0): the express processes get a core when
 * they wake without the standard processes being held.
 */
export const SPLIT_DEPLOYMENT = {
  splitLanes: { standardNice: 19 },
  env: { LANE_SIGNAL_HOLD_MS: '0' },
} as const

export function priorityPlan(smoke: boolean, backlogOverride = process.env['BENCH_PRIORITY_BACKLOG']) {
  const plan = smoke
    ? { rounds: 1, backlog: 1_000, expressRate: 10, idleOrders: 30, drainTimeoutMs: 120_000 }
    : // Two rounds, not the bench's three: a round drains 20,000 orders twice (~1-3 min each here).
      { rounds: 2, backlog: 20_000, expressRate: 10, idleOrders: 200, drainTimeoutMs: 600_000 }
  // Diagnostics (kept apart, like the worker env): BENCH_PRIORITY_BACKLOG, a
  // smaller backlog; BENCH_PRIORITY_EXPRESS_RATE and BENCH_PRIORITY_IDLE_ORDERS,
  // the express flow's rate and how many orders it sends on the idle stack
  // (the stage breakdown of the saga at that rate).
  const override = (name: string, value: string | undefined, min: number): number | undefined => {
    if (value === undefined || value === '') return undefined
    const n = Number(value)
    if (!Number.isInteger(n) || n < min) throw new Error(`${name}: "${value}" is not an integer >= ${min}`)
    return n
  }
  const backlog = override('BENCH_PRIORITY_BACKLOG', backlogOverride, 100)
  const expressRate = override('BENCH_PRIORITY_EXPRESS_RATE', process.env['BENCH_PRIORITY_EXPRESS_RATE'], 1)
  const idleOrders = override('BENCH_PRIORITY_IDLE_ORDERS', process.env['BENCH_PRIORITY_IDLE_ORDERS'], 10)
  return {
    ...plan,
    ...(backlog === undefined ? {} : { backlog }),
    ...(expressRate === undefined ? {} : { expressRate }),
    ...(idleOrders === undefined ? {} : { idleOrders }),
  }
}

export async function runPriority(
  ctx: BenchContext,
  deployment?: typeof SPLIT_DEPLOYMENT,
): Promise<PriorityResult> {
  const { nats, security } = ctx
  const plan = priorityPlan(ctx.settings.smoke)
  const streams = await streamSequences(nats.jsm)
  for (const name of ['ORDERS', 'KV_order-status', 'KV_order-idempotency', 'KV_inventory-reservations'])
    if (streams[name] !== undefined) await nats.jsm.streams.purge(name)
  const workerEnv = parseWorkerEnv('BENCH_PRIORITY_WORKER_ENV')
  if (Object.keys(workerEnv).length > 0)
    ctx.log(`priority: diagnostic worker env ${JSON.stringify(workerEnv)}`)
  // BENCH_PRIORITY_SPLIT_LANES=<nice>: each lane in processes of its own, the standard ones at that nice.
  const split = process.env['BENCH_PRIORITY_SPLIT_LANES']
  const splitLanes =
    split === undefined || split === ''
      ? deployment === undefined
        ? undefined
        : { ...deployment.splitLanes }
      : { standardNice: Number(split) }
  const deploymentEnv: Record<string, string> = deployment === undefined ? {} : { ...deployment.env }
  if (splitLanes !== undefined) {
    if (
      !Number.isInteger(splitLanes.standardNice) ||
      splitLanes.standardNice < 0 ||
      splitLanes.standardNice > 19
    )
      throw new Error(`BENCH_PRIORITY_SPLIT_LANES: "${split}" is not a nice value 0-19`)
    ctx.log(`priority: lanes in processes of their own, standard at nice ${splitLanes.standardNice}`)
  }
  const saga = await startSaga(
    ctx,
    { ...deploymentEnv, ...workerEnv },
    splitLanes === undefined ? {} : { splitLanes },
  )
  try {
    await seedStock(saga.services.inventory.url, security.bearer('admin'), SPREAD_SKUS, 1_000_000_000)
    const seed = security.secrets.nats.admin.seed
    const express = (watcher: LaneWatcher, keepGoing: (n: number) => boolean) =>
      runExpressFlow({
        url: saga.services.order.url,
        authorization: security.bearer('admin'),
        rate: plan.expressRate,
        skus: SPREAD_SKUS,
        watcher,
        keepGoing,
        settleMs: 60_000,
      })
    const idle: ExpressFlow[] = []
    const under: ExpressFlow[] = []
    const drains: DrainRun[] = []
    for (let round = 1; round <= plan.rounds; round++) {
      ctx.log(`priority, round ${round}/${plan.rounds}: ${plan.idleOrders} express orders on the idle stack`)
      const watcher = await watchLanes(nats.url, seed)
      idle.push(await express(watcher, (n) => n < plan.idleOrders).finally(() => watcher.close()))
      const order = round % 2 === 1 ? [false, true] : [true, false]
      for (const withExpress of order) {
        ctx.log(
          `priority, round ${round}/${plan.rounds}: ${plan.backlog.toLocaleString('en-US')} standard orders backlogged, drained ${withExpress ? 'with' : 'without'} express orders`,
        )
        const { run, flow } = await drain(ctx, saga, plan, round, withExpress, express)
        drains.push(run)
        if (flow !== undefined) under.push(flow)
        ctx.log(
          `  ${run.standardPerSec.toFixed(0)} standard confirmed/s, drained in ${run.drainS.toFixed(1)} s` +
            (flow === undefined ? '' : `; express p99 ${flow.confirm.p99.toFixed(0)} ms over ${flow.sent}`),
        )
      }
    }
    const figures = (runs: DrainRun[]) => ({
      perSec: toFigure(runs.map((r) => r.standardPerSec)),
      drainS: toFigure(runs.map((r) => r.drainS)),
    })
    const plain = figures(drains.filter((d) => !d.withExpress))
    const withExpress = figures(drains.filter((d) => d.withExpress))
    const idleFigures = expressFigures(idle)
    const underFigures = expressFigures(under)
    return {
      ...plan,
      workerEnv,
      ...(splitLanes === undefined ? {} : { splitLanes }),
      ...(deployment === undefined ? {} : { deploymentEnv }),
      idle: idleFigures,
      underBacklog: underFigures,
      plain,
      withExpress,
      p99Ratio: ratioOf(underFigures.p99, idleFigures.p99),
      throughputRatio: ratioOf(withExpress.perSec, plain.perSec),
      drains,
    }
  } finally {
    await saga.stop()
  }
}

async function drain(
  ctx: BenchContext,
  saga: SagaStack,
  plan: ReturnType<typeof priorityPlan>,
  round: number,
  withExpress: boolean,
  express: (watcher: LaneWatcher, keepGoing: (n: number) => boolean) => Promise<ExpressFlow>,
): Promise<{ run: DrainRun; flow?: ExpressFlow }> {
  const { jsm } = ctx.nats
  const orders = STREAMS.orders.name
  const until = new Date(Date.now() + 30 * 60_000)
  let watcher: LaneWatcher | undefined
  try {
    for (const name of STANDARD) await jsm.consumers.pause(orders, name, until)
    const placing = performance.now()
    await placeBacklog({
      url: saga.services.order.url,
      authorization: ctx.security.bearer('client'),
      count: plan.backlog,
      skus: SPREAD_SKUS,
    })
    const placeS = (performance.now() - placing) / 1000
    watcher = await watchLanes(ctx.nats.url, ctx.security.secrets.nats.admin.seed)
    const procs: Record<string, number> = { 'nats-server': ctx.nats.pid }
    for (const [name, svc] of Object.entries({ ...saga.services, ...saga.expressLane }))
      procs[name] = svc.proc.pid
    const cpu = (): Record<string, number> => ({
      ...Object.fromEntries(Object.entries(procs).map(([name, pid]) => [name, cpuMs(pid)])),
      'bench (watcher, express sender)': (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    })
    const loadAtStart = currentLoad()[0]
    const cpuBefore = cpu()
    const t0 = performance.now()
    await Promise.all(STANDARD.map((name) => jsm.consumers.resume(orders, name)))
    const w = watcher
    const confirmed = (): number => w.standardConfirmedAt.length
    const flow = withExpress
      ? express(w, () => confirmed() < 0.9 * plan.backlog && performance.now() - t0 < plan.drainTimeoutMs)
      : undefined
    await waitFor(() => confirmed() + w.standardCancelled() >= plan.backlog, {
      timeoutMs: plan.drainTimeoutMs,
      intervalMs: 100,
      message: `${plan.backlog} standard orders settled`,
    })
    const done = await flow
    const cpuAfter = cpu()
    await waitConsumersIdle(jsm, orders, 60_000, STACK_CONSUMERS)
    if (w.standardCancelled() > 0)
      throw new Error(`${w.standardCancelled()} standard orders of the backlog were cancelled`)
    const at = w.standardConfirmedAt
    const i10 = Math.floor(0.1 * at.length)
    const i90 = Math.ceil(0.9 * at.length) - 1
    const window = ((at[i90] ?? 0) - (at[i10] ?? 0)) / 1000
    return {
      run: {
        withExpress,
        round,
        standardPerSec: (i90 - i10) / window,
        drainS: ((at.at(-1) ?? t0) - t0) / 1000,
        placeS,
        expressSent: done?.sent ?? 0,
        cpuMsPerOrder: Object.fromEntries(
          Object.entries(cpuAfter).map(([k, v]) => [
            k,
            (v - (cpuBefore[k] ?? 0)) / (plan.backlog + (done?.sent ?? 0)),
          ]),
        ),
        loadAtStart,
      },
      ...(done === undefined ? {} : { flow: done }),
    }
  } finally {
    await Promise.allSettled(STANDARD.map((name) => jsm.consumers.resume(orders, name)))
    await watcher?.close()
  }
}

function expressFigures(flows: readonly ExpressFlow[]): ExpressFigures {
  const pooled = flows.flatMap((f) => f.latencies).sort((x, y) => x - y)
  const firstError = flows.find((f) => f.firstError !== undefined)?.firstError
  return {
    p50: toFigure(flows.map((f) => f.confirm.p50)),
    p99: toFigure(flows.map((f) => f.confirm.p99)),
    max: toFigure(flows.map((f) => f.confirm.max)),
    pooledP99: percentile(pooled, 99),
    stages: Object.fromEntries(
      STAGES.map((stage) => {
        const values = flows.flatMap((f) => f.stages.map((s) => s[stage])).sort((x, y) => x - y)
        return [stage, { p50: percentile(values, 50), p99: percentile(values, 99) }]
      }),
    ) as Record<Stage, { p50: number; p99: number }>,
    sent: flows.reduce((sum, f) => sum + f.sent, 0),
    cancelled: flows.reduce((sum, f) => sum + f.cancelled, 0),
    failed: flows.reduce((sum, f) => sum + f.failed, 0),
    ...(firstError === undefined ? {} : { firstError }),
  }
}

/** `KEY=value,KEY=value` (e.g. `CONSUMER_CONCURRENCY=4`) for a diagnostic run. */
