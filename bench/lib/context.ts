// Settings of a bench run (full or --smoke) and what every section shares.
import type { CompiledWorkers } from './builds.ts'
import type { BenchNats } from './nats.ts'
import type { BenchSecurity } from './security.ts'

export interface BenchSettings {
  smoke: boolean
  /** Runs per figure (the median and min-max of these are reported). */
  runs: number
  /** Intake, closed model: autocannon seconds per run. */
  closedSeconds: number
  /** Intake, open model and end to end: measured window and warm-up per run. */
  windowMs: number
  warmupMs: number
  /** End to end at saturation: orders in flight (closed model, each waits for `confirmed`). */
  e2eConcurrency: number
  /** Cold starts per way of starting. */
  coldStarts: number
  /** Profile variants of the intake (one round trip less, projection off, ...). */
  variants: boolean
}

export function settingsFor(smoke: boolean): BenchSettings {
  return smoke
    ? {
        smoke,
        runs: 1,
        closedSeconds: 1,
        windowMs: 1_500,
        warmupMs: 500,
        e2eConcurrency: 64,
        coldStarts: 1,
        variants: false,
      }
    : {
        smoke,
        runs: 3,
        closedSeconds: 6,
        windowMs: 6_000,
        warmupMs: 2_000,
        e2eConcurrency: 256,
        coldStarts: 10,
        variants: true,
      }
}

export interface BenchContext {
  settings: BenchSettings
  nats: BenchNats
  /** This run's secrets: every process's env, API keys, the admin identity. */
  security: BenchSecurity
  /** Temp dir of this run (binaries, bundles, logs, store). */
  tmp: string
  logDir: string
  /** Node bundle of bench/load/generator.ts. */
  generator: string
  /** Node bundle of bench/baselines/express-peer.ts. */
  expressPeer: string
  workers: CompiledWorkers
  log(message: string): void
}
