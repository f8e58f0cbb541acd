// `npm run bench [-- --smoke] [--no-wait] [--only intake,variants,profile,baseline,e2e,priority,priority-split,binaries]`
// Measures the order saga against baselines on this machine and writes
// bench/results/latest.md and .json (--smoke: a ~100 s check of the machinery,
// written to bench/results/smoke.*; --only: to bench/results/only-<sections>.*).
// Not part of CI's pass/fail.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { handleHelp } from '../scripts/lib/help.ts'
import { BUN, bundleForNode, compileProjectWorkers, ROOT } from './lib/builds.ts'
import { settingsFor, type BenchContext } from './lib/context.ts'
import { currentLoad, readMachineFacts } from './lib/machine.ts'
import { startBenchNats } from './lib/nats.ts'
import { stopAllProcesses } from './lib/processes.ts'
import { waitForQuiet } from './lib/quiet.ts'
import { createBenchSecurity, SECURITY_NOTE } from './lib/security.ts'
import { toMarkdown } from './report/markdown.ts'
import type { BenchReport } from './report/types.ts'
import { mergeBaselines, runBaseline } from './sections/baseline.ts'
import { runBinaries } from './sections/binaries.ts'
import { profileOrderIntake } from './sections/cpu-profile.ts'
import { runEndToEnd } from './sections/end-to-end.ts'
import { runIntakeVariants } from './sections/intake-variants.ts'
import { runIntake } from './sections/intake.ts'
import { runPriority, SPLIT_DEPLOYMENT } from './sections/priority.ts'

/**
 * Settings that make a run diagnostic: other worker settings, another rate or
 * backlog, another fsync interval. Such a run is written apart
 * (`*-diagnostic.md`), names them in its command and gives no verdicts.
 */
const DIAGNOSTIC_ENV = [
  'BENCH_PRIORITY_WORKER_ENV',
  'BENCH_PRIORITY_BACKLOG',
  'BENCH_PRIORITY_EXPRESS_RATE',
  'BENCH_PRIORITY_IDLE_ORDERS',
  'BENCH_PRIORITY_SPLIT_LANES',
  'BENCH_E2E_WORKER_ENV',
  'BENCH_E2E_HALF_RATE',
  'BENCH_NATS_SYNC_INTERVAL',
] as const

const USAGE = `usage: npm run bench [-- --smoke] [-- --no-wait] [-- --only intake,variants,profile,baseline,e2e,priority,priority-split,binaries]
  --smoke     a short run of every section (checks the bench itself, not the numbers)
  --no-wait   start at once, without waiting for the machine to settle
  --only      these sections only
results: bench/results/latest.md; see docs/performance.md`

handleHelp(process.argv.slice(2), USAGE, { takesArguments: true })
let parsed
try {
  parsed = parseArgs({
    options: {
      smoke: { type: 'boolean', default: false },
      'no-wait': { type: 'boolean', default: false },
      only: { type: 'string' },
    },
  })
} catch (error) {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`)
  process.exit(2)
}
const { values } = parsed
const settings = settingsFor(values.smoke === true)
const only = new Set(
  (values.only ?? 'intake,variants,profile,baseline,e2e,priority,priority-split,binaries').split(','),
)
if (!settings.variants) only.delete('variants')
const started = performance.now()
const log = (message: string): void => {
  process.stderr.write(`[bench +${((performance.now() - started) / 1000).toFixed(1)}s] ${message}\n`)
}

const tmp = mkdtempSync(join(tmpdir(), 'order-saga-bench-'))
const logDir = join(tmp, 'logs')
mkdirSync(logDir)
let failed = false
try {
  if (!settings.smoke && values['no-wait'] !== true) {
    await waitForQuiet({ below: 1.0, maxWaitMs: 15 * 60_000, pollMs: 30_000, log })
  }
  log('building: project binaries, load generator, Express peer')
  const workers = compileProjectWorkers(join(tmp, 'bin'))
  const generator = bundleForNode('bench/load/generator.ts', join(tmp, 'generator.mjs'))
  const expressPeer = bundleForNode('bench/baselines/express-peer.ts', join(tmp, 'express-peer.mjs'))
  const security = await createBenchSecurity()
  const nats = await startBenchNats(tmp, security)
  // Streams, buckets and consumers come from the provision step, as in a deployment.
  await security.provision(nats.url)
  const machine = readMachineFacts({ node: 'node', bun: BUN, natsServer: nats.bin })
  log(`load average at start: ${machine.loadAverage.join(' / ')}`)
  const ctx: BenchContext = {
    settings,
    nats,
    security,
    tmp,
    logDir,
    generator,
    expressPeer,
    workers,
    log,
  }
  const diagnosticSettings = Object.fromEntries(
    DIAGNOSTIC_ENV.flatMap((name) => {
      const value = process.env[name] ?? ''
      return value === '' ? [] : [[name, value]]
    }),
  )
  const report: BenchReport = {
    generatedAt: new Date().toISOString(),
    command: `${Object.entries(diagnosticSettings)
      .map(([name, value]) => `${name}=${JSON.stringify(value)} `)
      .join('')}npm run bench${commandArgs()}`,
    ...(Object.keys(diagnosticSettings).length === 0 ? {} : { diagnostic: diagnosticSettings }),
    settings,
    machine,
    security: SECURITY_NOTE,
    loadAtEnd: machine.loadAverage,
    durationS: 0,
    errors: [],
  }
  const section = async (name: string, work: () => Promise<void>): Promise<void> => {
    if (!only.has(name)) return
    try {
      await work()
    } catch (error) {
      failed = true
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error)
      report.errors.push(`${name}: ${message}`)
      log(`${name} failed: ${message}`)
    }
  }
  try {
    await section('intake', async () => void (report.intake = await runIntake(ctx)))
    await section('variants', async () => void (report.variants = await runIntakeVariants(ctx)))
    await section('profile', async () => void (report.cpuProfile = await profileOrderIntake(ctx)))
    await section('baseline', async () => void (report.baseline = await runBaseline(ctx)))
    await section('e2e', async () => void (report.endToEnd = await runEndToEnd(ctx)))
    // The baseline again after the end-to-end section: its figure brackets the one it divides.
    if (only.has('e2e'))
      await section('baseline', async () => {
        const after = await runBaseline(ctx)
        report.baseline = report.baseline === undefined ? after : mergeBaselines(report.baseline, after)
      })
    await section('priority', async () => void (report.priority = await runPriority(ctx)))
    await section(
      'priority-split',
      async () => void (report.prioritySplit = await runPriority(ctx, SPLIT_DEPLOYMENT)),
    )
    await section('binaries', async () => void (report.binaries = await runBinaries(ctx)))
  } finally {
    await stopAllProcesses()
    await nats.stop()
  }
  report.loadAtEnd = currentLoad()
  report.durationS = (performance.now() - started) / 1000
  // A run of some sections (--only) does not replace the full run's results.
  const partial = values.only === undefined ? '' : `only-${[...only].join('-')}`
  // A diagnostic run (other worker settings, a smaller backlog) is kept apart too.
  const diagnostic = Object.keys(report.diagnostic ?? {}).length === 0 ? '' : 'diagnostic'
  const name = [settings.smoke ? 'smoke' : '', partial, diagnostic].filter(Boolean).join('-') || 'latest'
  const base = join(ROOT, 'bench', 'results', name)
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true })
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`)
  const markdown = toMarkdown(report)
  writeFileSync(`${base}.md`, markdown)
  process.stdout.write(markdown)
  log(`wrote ${base}.md and .json`)
} catch (error) {
  failed = true
  log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
} finally {
  await stopAllProcesses()
  if (failed) log(`logs kept in ${logDir}`)
  else rmSync(tmp, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)

function commandArgs(): string {
  const args = [
    ...(settings.smoke ? ['--smoke'] : []),
    ...(values['no-wait'] === true ? ['--no-wait'] : []),
    ...(values.only === undefined ? [] : ['--only', values.only]),
  ]
  return args.length === 0 ? '' : ` -- ${args.join(' ')}`
}
