// 1. Intake: POST /orders on (a) the order service binary as compose.yaml
// runs it (ORDER_PROJECTION=off: the projection is the order-status
// service's work, which runs between (a)'s runs and is timed catching up;
// the variants measure it running beside the intake), (b) a bare Bun.serve
// + one JetStream publish, (c) Express on Node with validation + publish.
// Closed model (autocannon, 64 connections) and open model (fixed arrival
// rate, latency from the intended send time), same server, rounds interleaved.
import { BUN } from '../lib/builds.ts'
import type { BenchContext } from '../lib/context.ts'
import { runGenerator } from '../lib/generator-client.ts'
import { ensureBaselineStreams } from '../lib/nats.ts'
import { readRss } from '../lib/processes.ts'
import { startService, type BenchService, type ServiceSpec } from '../lib/services.ts'
import { ratioOf, toFigure, type Figure, type Ratio } from '../lib/stats.ts'
import { catchUpProjection } from './intake-variants.ts'
import {
  closedRun,
  CONNECTIONS,
  toClosedFigures,
  warmUp,
  type ClosedFigures,
  type ClosedSample,
} from './measure.ts'

export interface OpenFigures {
  /** 2xx answers per second actually carried. */
  achieved: Figure
  p50: Figure
  p99: Figure
  failures: number
  /** How late the generator itself sent (p99), to show it kept its schedule. */
  lagP99: Figure
}

export interface IntakeTarget {
  key: 'a' | 'b' | 'c'
  label: string
  closed: ClosedFigures
  open: OpenFigures
  rss: { idleMiB: number; peakMiB: number }
}

export interface IntakeResult {
  connections: number
  openRate: number
  /** How long the order service's projection took to catch up after its runs (ms). */
  projectionCatchUpMs: Figure
  targets: IntakeTarget[]
  ab: Ratio
  ac: Ratio
}

interface Target {
  key: IntakeTarget['key']
  label: string
  connName: string
  svc: BenchService
  idleMiB: number
  closed: ClosedSample[]
  open: { achieved: number; p50: number; p99: number; failures: number; lag: number }[]
}

export async function runIntake(ctx: BenchContext): Promise<IntakeResult> {
  const { nats, settings, logDir, security } = ctx
  await ensureBaselineStreams(nats.jsm)
  const env = { NATS_URL: nats.url }
  // (b) and (c) publish as the `order` identity, like (a): the same NKEY connect and permission checks.
  const baselineEnv = { ...env, ...security.baselineEnv() }
  const specs: readonly {
    key: Target['key']
    label: string
    connName: string
    spec: Omit<ServiceSpec, 'logDir'>
  }[] = [
    {
      key: 'a',
      label: 'order service (compiled Bun binary, ORDER_PROJECTION=off as compose.yaml runs it)',
      connName: 'order',
      spec: {
        name: 'intake-order',
        cmd: ctx.workers.paths.order,
        env: { ...env, ...(await security.env('order')), ORDER_PROJECTION: 'off' },
      },
    },
    {
      key: 'b',
      label: 'bare Bun.serve + publish',
      connName: 'bare-bun',
      spec: {
        name: 'intake-bare',
        cmd: BUN,
        args: ['bench/baselines/bare-bun.ts'],
        env: { ...baselineEnv, BENCH_SUBJECT: 'bench.bare.orders.created' },
      },
    },
    {
      key: 'c',
      label: 'Express on Node + Valibot + publish',
      connName: 'express-peer',
      spec: {
        name: 'intake-express',
        cmd: 'node',
        args: [ctx.expressPeer],
        env: { ...baselineEnv, BENCH_SUBJECT: 'bench.express.orders.created' },
      },
    },
  ]
  const targets: Target[] = []
  try {
    for (const s of specs) {
      const svc = await startService({ ...s.spec, logDir })
      targets.push({
        key: s.key,
        label: s.label,
        connName: s.connName,
        svc,
        idleMiB: 0,
        closed: [],
        open: [],
      })
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    for (const t of targets) t.idleMiB = readRss(t.svc.proc.pid).rssMiB
    const catchUp: number[] = []
    // The projection (its own service) applies what (a) accepted, between runs.
    const afterRun = async (t: Target): Promise<void> => {
      if (t.key === 'a') catchUp.push(await catchUpProjection(ctx, 'intake-order-status'))
    }
    for (const t of targets) {
      await warmUp(ctx, t.svc)
      await afterRun(t)
    }
    for (let round = 1; round <= settings.runs; round++) {
      for (const t of targets) {
        ctx.log(`intake closed ${t.key} round ${round}/${settings.runs}`)
        t.closed.push(await closedRun(ctx, t.svc, t.connName))
        await afterRun(t)
      }
    }
    const closed = targets.map((t) => toClosedFigures(t.closed))
    const slowest = Math.min(...closed.map((c) => c.rps.median))
    const openRate = Math.max(100, Math.floor((0.5 * slowest) / 100) * 100)
    for (let round = 1; round <= settings.runs; round++) {
      for (const t of targets) {
        ctx.log(`intake open ${t.key} at ${openRate}/s round ${round}/${settings.runs}`)
        const r = await runGenerator(ctx.generator, {
          url: t.svc.url,
          mode: 'open',
          concurrency: 256,
          rate: openRate,
          warmupMs: settings.warmupMs,
          durationMs: settings.windowMs,
          skus: ['SKU-1'],
          idempotencyKeys: false,
          authorization: security.bearer('client'),
          settleTimeoutMs: 10_000,
        })
        const ok = Object.entries(r.statuses).reduce(
          (sum, [code, n]) => sum + (code.startsWith('2') ? n : 0),
          0,
        )
        t.open.push({
          achieved: r.httpPerSec,
          p50: r.http.p50,
          p99: r.http.p99,
          failures: r.sent - ok,
          lag: r.scheduleLag?.p99 ?? 0,
        })
        await afterRun(t)
      }
    }
    const results: IntakeTarget[] = targets.map((t, i) => ({
      key: t.key,
      label: t.label,
      closed: closed[i] ?? toClosedFigures(t.closed),
      open: {
        achieved: toFigure(t.open.map((o) => o.achieved)),
        p50: toFigure(t.open.map((o) => o.p50)),
        p99: toFigure(t.open.map((o) => o.p99)),
        failures: t.open.reduce((sum, o) => sum + o.failures, 0),
        lagP99: toFigure(t.open.map((o) => o.lag)),
      },
      rss: { idleMiB: t.idleMiB, peakMiB: readRss(t.svc.proc.pid).peakMiB },
    }))
    const [a, b, c] = results
    if (a === undefined || b === undefined || c === undefined) throw new Error('intake: a target is missing')
    return {
      connections: CONNECTIONS,
      openRate,
      projectionCatchUpMs: toFigure(catchUp),
      targets: results,
      ab: ratioOf(a.closed.rps, b.closed.rps),
      ac: ratioOf(a.closed.rps, c.closed.rps),
    }
  } finally {
    await Promise.allSettled(targets.map((t) => t.svc.proc.stop()))
  }
}
