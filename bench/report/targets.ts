// The issues' targets against what was measured. Where a later issue set a
// figure again (the performance issue: a/b, binary size), its value is used.
import { fig, num, ratio, ratioVerdict, verdict } from '../lib/format.ts'
import { ratioOf, type Figure } from '../lib/stats.ts'
import { BASELINE_REVISION, type BaselineResult } from '../sections/baseline.ts'
import type { PriorityResult } from '../sections/priority.ts'
import type { BenchReport, TargetRow } from './types.ts'

export const TARGETS = {
  ab: 0.8,
  /** Intake p99 at 64 connections, (a) ÷ (b). */
  intakeP99: 1.2,
  ac: 2,
  endToEnd: 0.5,
  /** Confirmed orders/s at saturation ÷ that of the code the performance issue was filed against, both in this run. */
  throughputGain: 3,
  /** Submit-to-confirmed p99 at half the saturation rate, ms. */
  halfRateP99Ms: 15,
  /** CPU of every process (nats-server included) per confirmed order, ms. */
  cpuPerOrderMs: 1.2,
  hotSku: 0.7,
  binarySize: 1.07,
  coldStart: 0.6,
  idleRssMiB: 50,
  edgeGzipBytes: 100_000,
  expressP99: 2,
  standardThroughput: 0.9,
} as const

export function targetRows(report: BenchReport): TargetRow[] {
  const rows: TargetRow[] = []
  const { intake, endToEnd, priority, prioritySplit, binaries } = report
  if (intake !== undefined) {
    rows.push({
      figure: 'intake a/b (req/s at 64 connections)',
      measured: ratio(intake.ab),
      target: `>= ${TARGETS.ab}`,
      verdict: ratioVerdict(intake.ab, TARGETS.ab, true),
    })
    const [a, b] = (['a', 'b'] as const).map((key) => intake.targets.find((t) => t.key === key)?.closed.p99)
    if (a !== undefined && b !== undefined) {
      const r = a.median / b.median
      rows.push({
        figure: 'intake p99 at 64 connections, (a) ÷ (b)',
        measured: `${num(r, 2)}x (${fig(a)} vs ${fig(b)} ms)`,
        target: `<= ${TARGETS.intakeP99}x`,
        verdict: verdict(r, TARGETS.intakeP99, false),
      })
    }
    rows.push({
      figure: 'intake a/c (req/s at 64 connections)',
      measured: ratio(intake.ac),
      target: `>= ${TARGETS.ac}`,
      verdict: ratioVerdict(intake.ac, TARGETS.ac, true),
    })
  }
  if (endToEnd !== undefined) {
    rows.push({
      figure: 'end to end: confirmed orders/s ÷ (raw publish/s ÷ events per order)',
      measured: ratio(endToEnd.ratio),
      target: `>= ${TARGETS.endToEnd}`,
      verdict: ratioVerdict(endToEnd.ratio, TARGETS.endToEnd, true),
    })
    const baselineError = report.errors.find((e) => e.startsWith('baseline: '))?.split('\n')[0]
    rows.push(throughputRow(endToEnd.spread.confirmedPerSec, report.baseline, baselineError))
    rows.push({
      figure: `end to end: POST-to-confirmed p99 at half rate (${num(endToEnd.halfRate.rate)}/s)`,
      measured: `${fig(endToEnd.halfRate.p99)} ms`,
      target: `<= ${TARGETS.halfRateP99Ms} ms`,
      verdict: verdict(endToEnd.halfRate.p99.median, TARGETS.halfRateP99Ms, false),
    })
    const cpu = Object.entries(endToEnd.profile.cpuMsByProcess)
    const total = cpu.reduce((sum, [, ms]) => sum + ms, 0)
    rows.push({
      figure: 'CPU ms per confirmed order, all processes (saturation run)',
      measured: `${num(total, 2)} (${cpu
        .sort((x, y) => y[1] - x[1])
        .map(([name, ms]) => `${name} ${num(ms, 2)}`)
        .join(', ')})`,
      target: `<= ${TARGETS.cpuPerOrderMs}`,
      verdict: verdict(total, TARGETS.cpuPerOrderMs, false),
    })
    rows.push({
      figure: 'hot sku: confirmed orders/s on one sku ÷ on 1,000 skus',
      measured: ratio(endToEnd.hotVsSpread),
      target: `>= ${TARGETS.hotSku}`,
      verdict: ratioVerdict(endToEnd.hotVsSpread, TARGETS.hotSku, true),
    })
  }
  const priorityRows = (p: PriorityResult, deployment: string) => {
    rows.push({
      figure: `express p99 through ${num(p.backlog)} standard orders ÷ idle${deployment}`,
      measured: `${ratio(p.p99Ratio)} (${fig(p.underBacklog.p99)} vs ${fig(p.idle.p99)} ms)`,
      target: `<= ${TARGETS.expressP99}x`,
      verdict: ratioVerdict(p.p99Ratio, TARGETS.expressP99, false),
    })
    rows.push({
      figure: `standard confirmed/s while express orders flow ÷ without${deployment}`,
      measured: `${ratio(p.throughputRatio)} (${fig(p.withExpress.perSec)} vs ${fig(p.plain.perSec)}/s)`,
      target: `>= ${TARGETS.standardThroughput}`,
      verdict: ratioVerdict(p.throughputRatio, TARGETS.standardThroughput, true),
    })
  }
  if (priority !== undefined) priorityRows(priority, '')
  if (prioritySplit !== undefined) priorityRows(prioritySplit, `, ${splitLabel(prioritySplit)}`)
  if (binaries !== undefined) {
    const sizes = Object.entries(binaries.binaries).map(([name, b]): [string, number] => [
      name,
      b.bytes / binaries.bunRuntimeBytes,
    ])
    const worst = Math.max(...sizes.map(([, x]) => x))
    rows.push({
      figure: `largest of ${sizes.length} service binaries ÷ bare Bun runtime`,
      measured: `${num(worst, 4)}x (${sizes.find(([, x]) => x === worst)?.[0] ?? ''})`,
      target: `<= ${TARGETS.binarySize}x`,
      verdict: verdict(worst, TARGETS.binarySize, false),
    })
    const compiled = binaries.coldStart[0]?.readyMs
    const bunRun = binaries.coldStart.find((c) => c.way.startsWith('`bun run'))?.readyMs
    if (compiled !== undefined && bunRun !== undefined) {
      const r = compiled.median / bunRun.median
      rows.push({
        figure: 'cold start to /ready: compiled ÷ `bun run` (order)',
        measured: `${num(r, 2)}x (${fig(compiled)} ms vs ${fig(bunRun)} ms)`,
        target: `<= ${TARGETS.coldStart}x`,
        verdict: verdict(r, TARGETS.coldStart, false),
      })
    }
    rows.push(
      'size' in binaries.edge
        ? {
            figure: 'Worker bundle, gzipped',
            measured: `${num(binaries.edge.size.gzipBytes / 1000, 1)} KB`,
            target: `<= ${TARGETS.edgeGzipBytes / 1000} KB`,
            verdict: verdict(binaries.edge.size.gzipBytes, TARGETS.edgeGzipBytes, false),
          }
        : {
            figure: 'Worker bundle, gzipped',
            measured: binaries.edge.missing,
            target: `<= ${TARGETS.edgeGzipBytes / 1000} KB`,
            verdict: 'not measured',
          },
    )
  }
  if (binaries !== undefined) {
    const idle = Object.entries(binaries.binaries)
    const worst = Math.max(...idle.map(([, b]) => b.idle.median))
    const who = idle.find(([, b]) => b.idle.median === worst)?.[0] ?? ''
    rows.push({
      figure: `idle RSS per service, project binary (largest of ${idle.length})`,
      measured: `${num(worst, 1)} MiB (${who})`,
      target: `<= ${TARGETS.idleRssMiB} MiB`,
      verdict: verdict(worst, TARGETS.idleRssMiB, false),
    })
  }
  return rows
}

/**
 * The 3x row: this run's saturation throughput ÷ the baseline revision's,
 * measured in the same run by two benches around this one's (bench/run.ts).
 * No verdict with one of them missing: the host drifts within minutes, and
 * one bench on one side does not bracket the figure it divides.
 */
export function throughputRow(
  perSec: Figure,
  baseline: BaselineResult | undefined,
  /** The first line of the baseline section's error, when it failed. */
  failure?: string,
): TargetRow {
  const figure = `end to end: confirmed orders/s at saturation ÷ ${BASELINE_REVISION}'s in this run`
  const target = `>= ${TARGETS.throughputGain}x`
  const why = failure ?? 'the baseline section did not run: `--only baseline,e2e`'
  if (baseline === undefined) {
    return {
      figure,
      measured: `${fig(perSec)}/s; ${BASELINE_REVISION} not measured in this run`,
      target,
      verdict: `not measured (${why})`,
    }
  }
  const gain = ratioOf(perSec, baseline.confirmedPerSec)
  const measured = `${num(gain.value, 2)}x (${num(gain.low, 2)}–${num(gain.high, 2)}x): ${fig(perSec)} against ${fig(baseline.confirmedPerSec)}/s`
  if (baseline.benches < 2) {
    return {
      figure,
      measured: `${measured} (${BASELINE_REVISION} measured once)`,
      target,
      verdict: `none: ${BASELINE_REVISION} was measured on one side of this run only (${why})`,
    }
  }
  return { figure, measured, target, verdict: ratioVerdict(gain, TARGETS.throughputGain, true) }
}

/** How a split run's deployment is named in the report. */
export function splitLabel(p: PriorityResult): string {
  const nice = p.splitLanes?.standardNice ?? 0
  const signals = p.deploymentEnv?.['LANE_SIGNAL_HOLD_MS'] === '0' ? ', no lane signals' : ''
  return `each lane in processes of its own (standard at nice ${nice}${signals})`
}
