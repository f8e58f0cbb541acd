// Where the intake's time goes: the order service re-measured (closed model)
// with one thing changed at a time by configuration. Product code is untouched.
import { BUN } from '../lib/builds.ts'
import type { BenchContext } from '../lib/context.ts'
import { ensureBaselineStreams } from '../lib/nats.ts'
import { startService, type BenchService } from '../lib/services.ts'
import {
  closedRun,
  quiesceOrders,
  toClosedFigures,
  warmUp,
  type ClosedFigures,
  type ClosedSample,
} from './measure.ts'

export interface VariantResult {
  name: string
  what: string
  closed: ClosedFigures
}

interface Variant {
  name: string
  what: string
  /** The project's order binary (default) or the bare baseline. */
  program?: 'order' | 'bare'
  env?: Record<string, string>
  /**
   * Where the order-status projection runs: `between-runs` (its own process,
   * started after each run to apply what the run accepted), `beside` (its own
   * process, running during the runs), `inside` (ORDER_PROJECTION=on).
   */
  projection: 'between-runs' | 'beside' | 'inside' | 'none'
  idempotencyKeys?: boolean
}

const SHIPPED = { ORDER_PROJECTION: 'off' }

const VARIANTS: readonly Variant[] = [
  {
    name: 'shipped',
    what: '(a) again: ORDER_PROJECTION=off, one publish per POST, the projection not running meanwhile',
    env: SHIPPED,
    projection: 'between-runs',
  },
  {
    name: 'idempotency-key',
    what: '(a), every POST with a new Idempotency-Key (adds a KV get and a KV create)',
    env: SHIPPED,
    projection: 'between-runs',
    idempotencyKeys: true,
  },
  {
    name: 'log-warn',
    what: '(a), LOG_LEVEL=warn (no log line per order)',
    env: { ...SHIPPED, LOG_LEVEL: 'warn' },
    projection: 'between-runs',
  },
  {
    name: 'status-beside',
    what: '(a) with the order-status projection running beside it on the same two cores, keeping up',
    env: SHIPPED,
    projection: 'beside',
  },
  {
    name: 'all-in-one',
    what: 'ORDER_PROJECTION=on (a lone order service, `npm start`): the projection in the intake process',
    env: { ORDER_PROJECTION: 'on' },
    projection: 'inside',
  },
  {
    name: 'bare-quiet',
    what: 'baseline (b) again, in this table for reference',
    program: 'bare',
    env: { BENCH_SUBJECT: 'bench.bare.orders.created' },
    projection: 'none',
  },
]

/** The order-status projection as its own process, as in the end-to-end stack. */
export async function startStatusService(ctx: BenchContext, name: string): Promise<BenchService> {
  return await startService({
    name,
    cmd: ctx.workers.paths['order-status'],
    env: { NATS_URL: ctx.nats.url, ...(await ctx.security.env('order-status')) },
    logDir: ctx.logDir,
  })
}

/** Starts the projection, waits until it has applied every order, stops it: how long that took (ms). */
export async function catchUpProjection(ctx: BenchContext, name: string): Promise<number> {
  const status = await startStatusService(ctx, name)
  try {
    return await quiesceOrders(ctx)
  } finally {
    await status.proc.stop()
  }
}

export async function runIntakeVariants(ctx: BenchContext): Promise<VariantResult[]> {
  await ensureBaselineStreams(ctx.nats.jsm)
  const results: VariantResult[] = []
  for (const variant of VARIANTS) {
    const bare = variant.program === 'bare'
    const status =
      variant.projection === 'beside'
        ? await startStatusService(ctx, `variant-${variant.name}-status`)
        : undefined
    const svc = await startService({
      name: `variant-${variant.name}`,
      cmd: bare ? BUN : ctx.workers.paths.order,
      args: bare ? ['bench/baselines/bare-bun.ts'] : [],
      // The baseline publishes as the `order` identity, as in the intake section.
      env: {
        NATS_URL: ctx.nats.url,
        ...(bare ? ctx.security.baselineEnv() : await ctx.security.env('order')),
        ...variant.env,
      },
      logDir: ctx.logDir,
    }).catch(async (error: unknown) => {
      await status?.proc.stop()
      throw error
    })
    try {
      // Every run starts with every order of the runs before applied.
      const settle = async (): Promise<void> => {
        if (variant.projection === 'between-runs')
          await catchUpProjection(ctx, `variant-${variant.name}-status`)
        else if (variant.projection !== 'none') await quiesceOrders(ctx)
      }
      await warmUp(ctx, svc)
      await settle()
      const samples: ClosedSample[] = []
      for (let round = 1; round <= ctx.settings.runs; round++) {
        ctx.log(`intake variant ${variant.name} round ${round}/${ctx.settings.runs}`)
        samples.push(await closedRun(ctx, svc, bare ? 'bare-bun' : 'order', variant.idempotencyKeys === true))
        await settle()
      }
      results.push({ name: variant.name, what: variant.what, closed: toClosedFigures(samples) })
    } finally {
      await svc.proc.stop()
      await status?.proc.stop()
    }
  }
  return results
}
