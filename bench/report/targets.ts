// The targets against what was measured.
import { fig, num, ratio, verdict } from '../lib/format.ts'
import type { BenchReport, TargetRow } from './types.ts'

export const TARGETS = {
  ab: 0.9,
  ac: 2,
  endToEnd: 0.5,
  binarySize: 1.05,
  coldStart: 0.6,
  idleRssMiB: 50,
  edgeGzipBytes: 100_000,
  expressP99: 2,
  standardThroughput: 0.9,
} as const

export function targetRows(report: BenchReport): TargetRow[] {
  const rows: TargetRow[] = []
  const { intake, endToEnd, priority, binaries } = report
  if (intake !== undefined) {
    rows.push({
      figure: 'intake a/b (req/s at 64 connections)',
      measured: ratio(intake.ab),
      target: `>= ${TARGETS.ab}`,
      verdict: verdict(intake.ab.value, TARGETS.ab, true),
    })
    rows.push({
      figure: 'intake a/c (req/s at 64 connections)',
      measured: ratio(intake.ac),
      target: `>= ${TARGETS.ac}`,
      verdict: verdict(intake.ac.value, TARGETS.ac, true),
    })
  }
  if (endToEnd !== undefined) {
    rows.push({
      figure: 'end to end: confirmed orders/s ÷ (raw publish/s ÷ events per order)',
      measured: ratio(endToEnd.ratio),
      target: `>= ${TARGETS.endToEnd}`,
      verdict: verdict(endToEnd.ratio.value, TARGETS.endToEnd, true),
    })
  }
  if (priority !== undefined) {
    rows.push({
      figure: `express p99 through ${num(priority.backlog)} standard orders ÷ idle`,
      measured: `${ratio(priority.p99Ratio)} (${fig(priority.underBacklog.p99)} vs ${fig(priority.idle.p99)} ms)`,
      target: `<= ${TARGETS.expressP99}x`,
      verdict: verdict(priority.p99Ratio.value, TARGETS.expressP99, false),
    })
    rows.push({
      figure: 'standard confirmed/s while express orders flow ÷ without',
      measured: `${ratio(priority.throughputRatio)} (${fig(priority.withExpress.perSec)} vs ${fig(priority.plain.perSec)}/s)`,
      target: `>= ${TARGETS.standardThroughput}`,
      verdict: verdict(priority.throughputRatio.value, TARGETS.standardThroughput, true),
    })
  }
  if (binaries !== undefined) {
    const worst = Math.max(...Object.values(binaries.binaries).map((b) => b.bytes / binaries.bunRuntimeBytes))
    rows.push({
      figure: 'largest worker binary ÷ bare Bun runtime',
      measured: `${num(worst, 3)}x`,
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
      figure: 'idle RSS per worker, project binary (largest)',
      measured: `${num(worst, 1)} MiB (${who})`,
      target: `<= ${TARGETS.idleRssMiB} MiB`,
      verdict: verdict(worst, TARGETS.idleRssMiB, false),
    })
  }
  return rows
}
