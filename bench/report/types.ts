// The shape of bench/results/latest.json.
import type { BenchSettings } from '../lib/context.ts'
import type { MachineFacts } from '../lib/machine.ts'
import type { BaselineResult } from '../sections/baseline.ts'
import type { BinariesResult } from '../sections/binaries.ts'
import type { CpuProfileResult } from '../sections/cpu-profile.ts'
import type { EndToEndResult } from '../sections/end-to-end.ts'
import type { IntakeResult } from '../sections/intake.ts'
import type { VariantResult } from '../sections/intake-variants.ts'
import type { PriorityResult } from '../sections/priority.ts'

export interface BenchReport {
  generatedAt: string
  command: string
  settings: BenchSettings
  machine: MachineFacts
  /** The diagnostic settings of the run (bench/run.ts `DIAGNOSTIC_ENV`), if any: no verdicts then. */
  diagnostic?: Record<string, string>
  /** The security settings in force during the run. */
  security?: string
  /** Load averages (1/5/15 min) when the measurements ended. */
  loadAtEnd: [number, number, number]
  durationS: number
  intake?: IntakeResult
  variants?: VariantResult[]
  cpuProfile?: CpuProfileResult
  /** The end-to-end throughput of the revision the 3x target is counted from, measured in this run. */
  baseline?: BaselineResult
  endToEnd?: EndToEndResult
  priority?: PriorityResult
  /** The same measured on the split deployment (SPLIT_DEPLOYMENT). */
  prioritySplit?: PriorityResult
  binaries?: BinariesResult
  /** Sections that failed, with the reason. */
  errors: string[]
}

export interface TargetRow {
  figure: string
  measured: string
  target: string
  verdict: string
}
