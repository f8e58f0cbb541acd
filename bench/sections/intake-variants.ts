// Where the intake's time goes: the order service re-measured (closed model)
// with one thing changed at a time, by configuration or by the bench-only
// prototype (bench/prototypes/order-intake.ts). Product code is untouched.
import { BUN } from '../lib/builds.ts'
import type { BenchContext } from '../lib/context.ts'
import { ensureBaselineStreams } from '../lib/nats.ts'
import { startService } from '../lib/services.ts'
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
  /** Which program: the project's order binary (default), the bench prototype, or the bare baseline. */
  program?: 'order' | 'prototype' | 'bare'
  env?: Record<string, string>
  idempotencyKeys?: boolean
}

const VARIANTS: readonly Variant[] = [
  {
    name: 'shipped',
    what: 'as shipped: publish + pending-status KV create per POST; projection on; one info log line per order',
  },
  {
    name: 'idempotency-key',
    what: 'as shipped, every POST with a new Idempotency-Key (adds a KV get and a KV create)',
    idempotencyKeys: true,
  },
  { name: 'log-warn', what: 'LOG_LEVEL=warn (no log line per order)', env: { LOG_LEVEL: 'warn' } },
  {
    name: 'projection-off',
    what: 'ORDER_PROJECTION=off (status projection in another process)',
    env: { ORDER_PROJECTION: 'off' },
  },
  {
    name: 'publish-only',
    what: 'prototype: projection off and no pending-status KV create (publish only)',
    program: 'prototype',
    env: { ORDER_PROJECTION: 'off', BENCH_SKIP_PENDING_STATUS: '1' },
  },
  {
    name: 'publish-only-quiet',
    what: 'prototype: publish only, and LOG_LEVEL=warn',
    program: 'prototype',
    env: { ORDER_PROJECTION: 'off', BENCH_SKIP_PENDING_STATUS: '1', LOG_LEVEL: 'warn' },
  },
  {
    name: 'bare-two-writes',
    what: 'baseline (b) with a second JetStream write per POST, as the intake does (the ceiling of a two-write design)',
    program: 'bare',
    env: { BENCH_SUBJECT: 'bench.bare.orders.created', BENCH_SECOND_WRITE: '1' },
  },
]

function programOf(ctx: BenchContext, variant: Variant): { cmd: string; args: string[]; connName: string } {
  if (variant.program === 'bare')
    return { cmd: BUN, args: ['bench/baselines/bare-bun.ts'], connName: 'bare-bun' }
  if (variant.program === 'prototype') return { cmd: ctx.orderPrototype, args: [], connName: 'order' }
  return { cmd: ctx.workers.paths.order, args: [], connName: 'order' }
}

export async function runIntakeVariants(ctx: BenchContext): Promise<VariantResult[]> {
  await ensureBaselineStreams(ctx.nats.jsm)
  const results: VariantResult[] = []
  for (const variant of VARIANTS) {
    const { cmd, args, connName } = programOf(ctx, variant)
    const svc = await startService({
      name: `variant-${variant.name}`,
      cmd,
      args,
      env: { NATS_URL: ctx.nats.url, ...variant.env },
      logDir: ctx.logDir,
    })
    try {
      // With the projection off nothing consumes orders.created here; the
      // end-to-end section purges ORDERS before it starts.
      const projecting = variant.program !== 'bare' && variant.env?.['ORDER_PROJECTION'] !== 'off'
      const settle = async (): Promise<void> => {
        if (projecting) await quiesceOrders(ctx)
      }
      await warmUp(ctx, svc)
      await settle()
      const samples: ClosedSample[] = []
      for (let round = 1; round <= ctx.settings.runs; round++) {
        ctx.log(`intake variant ${variant.name} round ${round}/${ctx.settings.runs}`)
        samples.push(await closedRun(ctx, svc, connName, variant.idempotencyKeys === true))
        await settle()
      }
      results.push({ name: variant.name, what: variant.what, closed: toClosedFigures(samples) })
    } finally {
      await svc.proc.stop()
    }
  }
  return results
}
