// One closed-model intake run with what it cost: CPU of the service and of
// nats-server per POST, and NATS messages the service sent per POST.
import { runAutocannon, type ClosedRun } from '../lib/autocannon.ts'
import type { SagaConsumerName } from '../../shared/nats/saga-consumers.ts'
import type { BenchContext } from '../lib/context.ts'
import { connectionCounters, waitConsumersIdle } from '../lib/nats.ts'
import { cpuMs } from '../lib/processes.ts'
import type { BenchService } from '../lib/services.ts'
import { toFigure, type Figure } from '../lib/stats.ts'

export const CONNECTIONS = 64

export interface ClosedSample extends ClosedRun {
  cpuMsPerPost: number
  natsCpuMsPerPost: number
  natsMsgsPerPost: number
}

export interface ClosedFigures {
  rps: Figure
  p50: Figure
  p99: Figure
  /** Non-2xx answers and errors over all runs. */
  failures: number
  cpuMsPerPost: Figure
  natsCpuMsPerPost: Figure
  natsMsgsPerPost: Figure
}

export async function closedRun(
  ctx: BenchContext,
  svc: BenchService,
  connName: string,
  idempotencyKeys = false,
): Promise<ClosedSample> {
  const { nats, settings } = ctx
  const before = {
    svc: cpuMs(svc.proc.pid),
    nats: cpuMs(nats.pid),
    conns: await connectionCounters(nats.monitorUrl),
  }
  const run = await runAutocannon({
    url: `${svc.url}/orders`,
    connections: CONNECTIONS,
    durationS: settings.closedSeconds,
    idempotencyKeys,
    authorization: ctx.security.bearer('client'),
  })
  const after = {
    svc: cpuMs(svc.proc.pid),
    nats: cpuMs(nats.pid),
    conns: await connectionCounters(nats.monitorUrl),
  }
  const posts = Math.max(1, run.requests)
  const sent = (after.conns[connName]?.inMsgs ?? 0) - (before.conns[connName]?.inMsgs ?? 0)
  return {
    ...run,
    cpuMsPerPost: (after.svc - before.svc) / posts,
    natsCpuMsPerPost: (after.nats - before.nats) / posts,
    natsMsgsPerPost: sent / posts,
  }
}

export function toClosedFigures(samples: readonly ClosedSample[]): ClosedFigures {
  const pick = (f: (s: ClosedSample) => number): Figure => toFigure(samples.map(f))
  return {
    rps: pick((s) => s.rps),
    p50: pick((s) => s.p50),
    p99: pick((s) => s.p99),
    failures: samples.reduce((sum, s) => sum + s.non2xx + s.errors, 0),
    cpuMsPerPost: pick((s) => s.cpuMsPerPost),
    natsCpuMsPerPost: pick((s) => s.natsCpuMsPerPost),
    natsMsgsPerPost: pick((s) => s.natsMsgsPerPost),
  }
}

/** The projection's durable consumer (the intake sections run no other worker). */
const PROJECTION_CONSUMER: SagaConsumerName = 'order-status'

/** The order service's projection works off what the intake published; let it finish before the next run. */
export async function quiesceOrders(ctx: BenchContext): Promise<number> {
  const started = performance.now()
  await waitConsumersIdle(ctx.nats.jsm, 'ORDERS', 300_000, [PROJECTION_CONSUMER])
  return performance.now() - started
}

/** A short unmeasured run so every service is measured warm (JIT, connection pools). */
export async function warmUp(ctx: BenchContext, svc: BenchService): Promise<void> {
  if (ctx.settings.smoke) return
  await runAutocannon({
    url: `${svc.url}/orders`,
    connections: CONNECTIONS,
    durationS: 1,
    authorization: ctx.security.bearer('client'),
  })
}
