import { describe, expect, it } from 'vitest'
import { toFigure } from '../lib/stats.ts'
import { mergeBaselines, type BaselineResult } from '../sections/baseline.ts'
import { throughputRow } from './targets.ts'

const baseline = (runs: number[]): BaselineResult => ({
  revision: 'ae132ea',
  commit: 'ae132ea173a07a780d520feefb2911e646298889',
  command: 'bun bench/run.ts --only e2e --no-wait',
  confirmedPerSec: toFigure(runs),
  cpuMsByProcess: { inventory: 1.5 },
  benches: 1,
  durationS: 100,
})

describe('throughputRow', () => {
  it('divides by the baseline measured in the same run, with the spreads', () => {
    const row = throughputRow(toFigure([741, 789, 881]), baseline([270, 434, 444]))
    expect(row.figure).toBe("end to end: confirmed orders/s at saturation ÷ ae132ea's in this run")
    expect(row.measured).toBe('1.82x (1.67–3.26x): 789 (741–881) against 434 (270–444)/s')
    expect(row.verdict).toBe('**missed** by 39% at the median; the spread crosses the target')
  })

  it('gives no verdict when the baseline did not run', () => {
    const row = throughputRow(toFigure([789]), undefined)
    expect(row.measured).toContain('ae132ea not measured in this run')
    expect(row.verdict).toMatch(/^not measured/)
  })

  it('meets the target only at three times the baseline', () => {
    expect(throughputRow(toFigure([900, 910, 920]), baseline([300, 300, 300])).verdict).toBe('met')
    expect(throughputRow(toFigure([890, 895, 899]), baseline([300, 300, 300])).verdict).toMatch(/missed/)
  })
})

describe('mergeBaselines', () => {
  it('pools the runs of the benches before and after, and averages their CPU per process', () => {
    const before = { ...baseline([270, 434, 444]), cpuMsByProcess: { inventory: 1.5, payment: 1 } }
    const after = {
      ...baseline([213, 284, 328]),
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
    expect(merged.durationS).toBe(198)
  })
})
