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
  /** The order-status projection runs beside it, in its own process (as compose.yaml runs it). */
  statusService?: boolean
  idempotencyKeys?: boolean
}

const SHIPPED = { ORDER_PROJECTION: 'off' }

const VARIANTS: readonly Variant[] = [
  {
    name: 'shipped',
    what: '(a) again: ORDER_PROJECTION=off, one publish per POST, the projection not running meanwhile',
    env: SHIPPED,
  },
  {
    name: 'idempotency-key',
    what: '(a), every POST with a new Idempotency-Key (adds a KV get and a KV create)',
    env: SHIPPED,
    idempotencyKeys: true,
  },
  {
    name: 'log-warn',
    what: '(a), LOG_LEVEL=warn (no log line per order)',
    env: { ...SHIPPED, LOG_LEVEL: 'warn' },
  },
  {
    name: 'status-beside',
    what: '(a) with the order-status projection running beside it on the same two cores, keeping up',
    env: SHIPPED,
    statusService: true,
  },
  {
    name: 'all-in-one',
    what: 'ORDER_PROJECTION=on (a lone order service, `npm start`): the projection in the intake process',
    env: { ORDER_PROJECTION: 'on' },
  },
  {
    name: 'bare-quiet',
    what: 'baseline (b) again, in this table for reference',
    program: 'bare',
    env: { BENCH_SUBJECT: 'bench.bare.orders.created' },
  },
]

/** The order-status projection as its own process, as in the end-to-end stack. */
export async function startStatusService(ctx: BenchContext, name: string): Promise<BenchService> {
  return await startService({
    name,
    cmd: ctx.workers.paths['order-status'],
    env: { NATS_URL: ctx.nats.url },
    logDir: ctx.logDir,
  })
}

export async function runIntakeVariants(ctx: BenchContext): Promise<VariantResult[]> {
  await ensureBaselineStreams(ctx.nats.jsm)
  const results: VariantResult[] = []
  for (const variant of VARIANTS) {
    const bare = variant.program === 'bare'
    const status =
      variant.statusService === true
        ? await startStatusService(ctx, `variant-${variant.name}-status`)
        : undefined
    const svc = await startService({
      name: `variant-${variant.name}`,
      cmd: bare ? BUN : ctx.workers.paths.order,
      args: bare ? ['bench/baselines/bare-bun.ts'] : [],
      env: { NATS_URL: ctx.nats.url, ...variant.env },
      logDir: ctx.logDir,
    }).catch(async (error: unknown) => {
      await status?.proc.stop()
      throw error
    })
    try {
      // Orders left unprojected (projection off, none beside) wait in the
      // consumer: the next variant with a projection applies them before it
      // is measured, and the end-to-end section purges ORDERS.
      const settle = async (): Promise<void> => {
        if (!bare && variant.env?.['ORDER_PROJECTION'] !== 'off') await quiesceOrders(ctx)
        if (status !== undefined) await quiesceOrders(ctx)
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
