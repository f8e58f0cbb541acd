import { describe, expect, it } from 'vitest'
import { ratioOf, toFigure } from '../lib/stats.ts'
import { mergeBaselines, type BaselineResult } from '../sections/baseline.ts'
import type { PriorityResult } from '../sections/priority.ts'
import { targetRows, throughputRow } from './targets.ts'
import type { BenchReport } from './types.ts'

const once = (runs: number[]): BaselineResult => ({
  revision: 'ae132ea',
  commit: 'ae132ea173a07a780d520feefb2911e646298889',
  command: 'bun bench/run.ts --only e2e --no-wait',
  confirmedPerSec: toFigure(runs),
  cpuMsByProcess: { inventory: 1.5 },
  benches: 1,
  perBench: [toFigure(runs)],
  durationS: 100,
})
/** Two benches, before and after, with the same runs each (what the run measures). */
const baseline = (runs: number[]): BaselineResult => mergeBaselines(once(runs), once(runs))

describe('throughputRow', () => {
  it('divides by the baseline measured in the same run, with the spreads', () => {
    const row = throughputRow(
      toFigure([741, 789, 881]),
      mergeBaselines(once([270, 434, 444]), once([300, 434, 434])),
    )
    expect(row.figure).toBe("end to end: confirmed orders/s at saturation ÷ ae132ea's in this run")
    expect(row.measured).toBe('1.82x (1.67–3.26x): 789 (741–881) against 434 (270–444)/s')
    expect(row.verdict).toBe('**missed** by 39% at the median; the spread crosses the target')
  })

  it('gives no verdict when the baseline did not run, saying why', () => {
    const row = throughputRow(toFigure([789]), undefined)
    expect(row.measured).toContain('ae132ea not measured in this run')
    expect(row.verdict).toBe('not measured (the baseline section did not run: `--only baseline,e2e`)')
    const failed = throughputRow(
      toFigure([789]),
      undefined,
      'baseline: revision ae132ea is not in this clone',
    )
    expect(failed.verdict).toBe('not measured (baseline: revision ae132ea is not in this clone)')
  })

  it('gives no verdict when the baseline was measured on one side of the run only', () => {
    const row = throughputRow(toFigure([900, 910, 920]), once([300, 300, 300]), 'baseline: timed out')
    expect(row.measured).toContain('(ae132ea measured once)')
    expect(row.verdict).toBe('none: ae132ea was measured on one side of this run only (baseline: timed out)')
  })

  it('meets the target only at three times the baseline', () => {
    expect(throughputRow(toFigure([900, 910, 920]), baseline([300, 300, 300])).verdict).toBe('met')
    expect(throughputRow(toFigure([890, 895, 899]), baseline([300, 300, 300])).verdict).toMatch(/missed/)
  })
})

describe('mergeBaselines', () => {
  it('pools the runs of the benches before and after, and averages their CPU per process', () => {
    const before = { ...once([270, 434, 444]), cpuMsByProcess: { inventory: 1.5, payment: 1 } }
    const after = {
      ...once([213, 284, 328]),
      cpuMsByProcess: { inventory: 0.9, payment: 0.8 },
      durationS: 98,
    }
    const merged = mergeBaselines(before, after)
    expect(merged.confirmedPerSec.runs).toEqual([270, 434, 444, 213, 284, 328])
    expect(merged.confirmedPerSec.median).toBe(306)
    expect(merged.confirmedPerSec.n).toBe(6)
    expect(merged.cpuMsByProcess.inventory).toBeCloseTo(1.2)
    expect(merged.cpuMsByProcess.payment).toBeCloseTo(0.9)
    expect(merged.benches).toBe(2)
    expect(merged.perBench.map((f) => f.median)).toEqual([434, 284])
    expect(merged.durationS).toBe(198)
  })
})

describe('the priority rows of two deployments', () => {
  const express = (p99: number[]) => ({
    p50: toFigure(p99.map((x) => x / 3)),
    p99: toFigure(p99),
    max: toFigure(p99),
    pooledP99: Math.max(...p99),
    stages: {} as PriorityResult['idle']['stages'],
    sent: 200,
    cancelled: 0,
    failed: 0,
  })
  const result = (underP99: number[], withExpress: number[], plain: number[]): PriorityResult => {
    const idle = express([25, 31])
    const under = express(underP99)
    const w = { perSec: toFigure(withExpress), drainS: toFigure([30, 30]) }
    const p = { perSec: toFigure(plain), drainS: toFigure([30, 30]) }
    return {
      backlog: 20_000,
      expressRate: 10,
      idleOrders: 200,
      rounds: 2,
      drainTimeoutMs: 600_000,
      workerEnv: {},
      idle,
      underBacklog: under,
      plain: p,
      withExpress: w,
      p99Ratio: ratioOf(under.p99, idle.p99),
      throughputRatio: ratioOf(w.perSec, p.perSec),
      drains: [],
    }
  }

  it('names the split deployment in its rows and judges each deployment on its own figures', () => {
    const rows = targetRows({
      priority: result([75, 83], [719, 874], [863, 897]),
      prioritySplit: {
        ...result([30, 38], [842, 963], [769, 785]),
        splitLanes: { standardNice: 19 },
        deploymentEnv: { LANE_SIGNAL_HOLD_MS: '0' },
      },
    } as unknown as BenchReport)
    expect(rows.map((r) => r.figure)).toEqual([
      'express p99 through 20,000 standard orders ÷ idle',
      'standard confirmed/s while express orders flow ÷ without',
      'express p99 through 20,000 standard orders ÷ idle, each lane in processes of its own (standard at nice 19, no lane signals)',
      'standard confirmed/s while express orders flow ÷ without, each lane in processes of its own (standard at nice 19, no lane signals)',
    ])
    expect(rows[0]?.verdict).toMatch(/missed/)
    expect(rows[2]?.verdict).toBe('met')
    expect(rows[3]?.verdict).toBe('met')
  })
})
