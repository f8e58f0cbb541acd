// The long fault run: `npm run chaos` (= `bun scripts/chaos.ts`).
//   npm run chaos -- --scenario kill-payment,poison --duration 30 --rate 20 --faults 3 --profile ci
// Every scenario on a fresh stack, one at a time; tables on stdout; exit 1 if an invariant failed.
import { parseArgs } from 'node:util'
import { CI_PROFILE, LONG_PROFILE, type ChaosProfile } from '../test/chaos/profiles.ts'
import { runScenario } from '../test/chaos/run-scenario.ts'
import { SCENARIOS } from '../test/chaos/scenarios.ts'
import { summaryTable, type ScenarioSummary } from '../test/chaos/summary.ts'
import { createTestSecrets, TEST_SECRETS_ENV } from '../test/harness/test-secrets.ts'

const { values } = parseArgs({
  options: {
    scenario: { type: 'string' },
    profile: { type: 'string', default: 'long' },
    rate: { type: 'string' },
    duration: { type: 'string' },
    faults: { type: 'string' },
    seed: { type: 'string' },
    evidence: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})

if (values.help) {
  process.stdout.write(
    [
      'usage: npm run chaos -- [--scenario a,b] [--profile long|ci] [--rate N/s] [--duration S] [--faults N] [--seed N] [--evidence]',
      '  --evidence: keep every process log (in $TMPDIR/chaos-evidence) after passing scenarios too',
      `scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`,
      '',
    ].join('\n'),
  )
  process.exit(0)
}

const base = values.profile === 'ci' ? CI_PROFILE : LONG_PROFILE
const num = (text: string | undefined, fallback: number): number =>
  text === undefined ? fallback : Number(text)
const profile: ChaosProfile = {
  ...base,
  ratePerSec: num(values.rate, base.ratePerSec),
  durationMs: num(values.duration, base.durationMs / 1000) * 1000,
  faults: num(values.faults, base.faults),
  seed: num(values.seed, base.seed),
}
const wanted = values.scenario?.split(',') ?? SCENARIOS.map((s) => s.name)
const unknown = wanted.filter((name) => !SCENARIOS.some((s) => s.name === name))
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}\n`)
  process.exit(2)
}

// Ctrl-C: exit, which runs the harness's exit hooks (kill every worker and nats-server it started).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))

// The harness's servers and workers need the run's identities and keys, which
// vitest's global setup makes for the tests: make them here too.
const removeSecrets = process.env[TEST_SECRETS_ENV] ? undefined : await createTestSecrets()
const summaries: ScenarioSummary[] = []
const started = Date.now()
for (const scenario of SCENARIOS.filter((s) => wanted.includes(s.name))) {
  try {
    summaries.push((await runScenario(scenario, profile, { keepEvidence: values.evidence })).summary)
  } catch (error) {
    process.stdout.write(
      `\n== ${scenario.name}: could not run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    summaries.push({
      scenario: scenario.name,
      orders: [],
      views: new Map(),
      recoveries: [],
      ok: false,
      failed: 1,
      durationMs: 0,
    })
  }
}
process.stdout.write(
  `\n== chaos ${profile.name} summary (${((Date.now() - started) / 1000).toFixed(0)} s)\n${summaryTable(summaries)}\n`,
)
await removeSecrets?.()
process.exit(summaries.every((s) => s.ok) ? 0 : 1)
