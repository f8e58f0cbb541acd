// The fault suite, short: every scenario of test/chaos/scenarios.ts once, on
// a fresh stack, at 20 orders/s for 12 s with two faults. The long run is
// `npm run chaos`. Every run checks the money invariant against the
// processor's own ledger (test/chaos/charge-check.ts). Each scenario prints
// its tables; a failed invariant fails the test and leaves every process log
// (and the gateway's ledger file) in $TMPDIR/chaos-evidence.
import { afterAll, describe, expect, it } from 'vitest'
import { CI_PROFILE } from './chaos/profiles.ts'
import { runScenario } from './chaos/run-scenario.ts'
import { SCENARIOS } from './chaos/scenarios.ts'
import { summaryTable, type ScenarioSummary } from './chaos/summary.ts'

const summaries: ScenarioSummary[] = []

afterAll(() => {
  if (summaries.length > 0) console.log(`\n== chaos ci summary\n${summaryTable(summaries)}`)
})

describe('chaos (short)', () => {
  for (const scenario of SCENARIOS) {
    it(`loses no order, keeps the money invariant, balances stock and dead-letters only poison: ${scenario.title(CI_PROFILE)}`, async () => {
      const { summary, checks } = await runScenario(scenario, CI_PROFILE)
      summaries.push(summary)
      expect(checks.filter((c) => !c.ok)).toStrictEqual([])
    }, 240_000)
  }
})
