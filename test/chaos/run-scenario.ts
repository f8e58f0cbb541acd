// One scenario end to end: a fresh stack, seeded stock, fixed-rate load with
// the faults injected alongside, then every invariant checked from what the
// system answered, and the tables printed.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { authAs } from '../harness/test-secrets.ts'
import { startClusterSagaStack, startSagaStack } from '../support/saga-stack.ts'
import { checkRun } from './check-run.ts'
import { placeWithRetry } from './client.ts'
import { writeEvidence } from './evidence.ts'
import type { FaultContext } from './faults.ts'
import { mapLimit, waitForFinalStates } from './final-states.ts'
import { startLoad } from './load.ts'
import { chaosCatalog } from './order-mix.ts'
import { shortStock, type ChaosProfile } from './profiles.ts'
import { measureRecovery, recoveryTable } from './recovery.ts'
import { checksTable, type CheckResult } from './report.ts'
import type { ChaosScenario } from './scenarios.ts'
import { startStockSampler } from './stock-sampler.ts'
import { consumerBacklog } from './stream-check.ts'
import { outcomeTable, type ScenarioSummary } from './summary.ts'

export interface ScenarioResult {
  summary: ScenarioSummary
  checks: CheckResult[]
  /** The printed block. */
  report: string
}

export interface RunOptions {
  print?: (text: string) => void
  /** Write every process's output to a folder after a passing run too (always after a failing one). */
  keepEvidence?: boolean
}

export async function runScenario(
  scenario: ChaosScenario,
  base: ChaosProfile,
  { print = console.log, keepEvidence = false }: RunOptions = {},
): Promise<ScenarioResult> {
  const profile = scenario.adapt?.(base) ?? base
  const began = Date.now()
  // The processor's ledger on disk, so a gateway killed with -9 comes back with every charge it took.
  const ledgerDir = await mkdtemp(join(tmpdir(), 'chaos-ledger-'))
  const ledgerFile = join(ledgerDir, 'gateway-ledger.jsonl')
  const options = {
    maxLines: 500_000,
    ...scenario.stackOptions,
    gatewayEnv: { GATEWAY_LEDGER_FILE: ledgerFile, ...scenario.stackOptions?.gatewayEnv },
    workerEnv: {
      // The load is one API key at up to 30 orders/s plus every retry of an
      // outage: a fault suite, not a rate-limit test (those are in workers/order).
      RATE_LIMIT_PER_SECOND: '1000',
      RATE_LIMIT_BURST: '2000',
      ...(profile.ackWaitMs === undefined ? {} : { CONSUMER_ACK_WAIT_MS: String(profile.ackWaitMs) }),
      ...scenario.stackOptions?.workerEnv,
    },
  }
  const stack = await (scenario.cluster ? startClusterSagaStack(options) : startSagaStack(options)).catch(
    async (error: unknown) => {
      await rm(ledgerDir, { recursive: true, force: true })
      throw error
    },
  )
  const nc = await connect({
    ...authAs('admin'),
    servers: stack.natsUrls,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  }).catch(async (error: unknown) => {
    await stack.dispose()
    await rm(ledgerDir, { recursive: true, force: true })
    throw error
  })
  try {
    const js = jetstream(nc, { timeout: 5_000 })
    const jsm = await jetstreamManager(nc, { timeout: 5_000 })
    const catalog = chaosCatalog(shortStock(profile))
    for (const entry of catalog) await stack.setStock(entry.sku, entry.onHand, entry.priceCents)
    const skus = catalog.map((c) => c.sku)
    const sampler = startStockSampler(() => stack.inventories[0]?.url ?? '', skus)
    const retry = { giveUpAfterMs: profile.giveUpAfterMs, requestTimeoutMs: 5_000 }
    const { ratePerSec, durationMs, seed } = profile
    const keyPrefix = `chaos-${scenario.name}-${began}`
    const load = startLoad({ orderUrl: stack.order.url, ratePerSec, durationMs, seed, keyPrefix, ...retry })
    const ctx: FaultContext = {
      ...{ stack, nc, js, jsm, profile, loadStartedAt: load.startedAt },
      ...{ faults: [], poison: [], retired: [], gatewaySnapshots: [] },
    }
    const injection = scenario.inject(ctx).then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    )
    const orders = await load.done
    const injectError = await injection
    const loadEndedAt = Date.now()
    // Like a client reconciling after an outage: ask again, same key, for every order still without an answer.
    const unanswered = orders.filter((o) => o.orderId === undefined)
    await mapLimit(unanswered, 8, (o) => placeWithRetry(stack.order.url, o, retry))
    const acceptedIds = orders.flatMap((o) => (o.orderId === undefined ? [] : [o.orderId]))
    // Stop early when orders are stuck for good: none became final for 10 s and no consumer holds anything.
    const stall = { afterMs: 10_000, idle: async () => (await consumerBacklog(jsm)).length === 0 }
    const final = await waitForFinalStates(() => stack.order.url, acceptedIds, profile.finalDeadlineMs, stall)
    const samples = await sampler.stop()
    const outcome = {
      ctx,
      js,
      jsm,
      catalog,
      orders,
      reconciled: unanswered.length,
      final,
      samples,
      injectError,
      ...(scenario.check === undefined ? {} : { scenarioChecks: scenario.check }),
    }
    const { checks, stockTable } = await checkRun(outcome)

    const views = final.views
    const recoveries = measureRecovery(ctx.faults, orders, views)
    const ok = checks.every((c) => c.ok)
    const failed = checks.filter((c) => !c.ok).length
    const took = Date.now() - began
    const summary: ScenarioSummary = {
      scenario: scenario.name,
      orders,
      views,
      recoveries,
      ok,
      durationMs: took,
      failed,
    }
    const payments = [
      ...ctx.retired.filter((r) => r.worker === 'payment').map((r) => r.handle),
      stack.payment.handle,
    ]
    const breakerOpened = payments
      .flatMap((h) => h.lines())
      .filter((l) => l.includes('"breaker":"open"')).length
    const stackText = scenario.cluster
      ? '3-node cluster, NATS_REPLICAS=3, every URL'
      : 'one nats-server, file storage'
    const lines = [
      '',
      `== chaos ${profile.name}: ${scenario.name} — ${scenario.title(profile)}`,
      [
        `stack: ${stackText}; ${ratePerSec} orders/s for ${durationMs / 1000} s (seed ${seed})`,
        `ack wait ${profile.ackWaitMs ?? 30_000} ms; load ran ${((loadEndedAt - load.startedAt) / 1000).toFixed(1)} s`,
        `scenario took ${(took / 1000).toFixed(1)} s; payment breaker opened ${breakerOpened}x`,
      ].join('; '),
      outcomeTable(orders, views),
      stockTable,
      recoveryTable(recoveries, load.startedAt),
      checksTable(checks),
    ]
    if (!ok || keepEvidence) {
      const dir = await writeEvidence(scenario.name, stack, ctx, {
        'orders.json': JSON.stringify(orders.map((o) => ({ ...o, view: views.get(o.orderId ?? '') }))),
        'faults.json': JSON.stringify(ctx.faults, null, 1),
        'gateway-ledger.jsonl': await readFile(ledgerFile, 'utf8').catch(() => ''),
      }).catch((error: unknown) => `(could not write evidence: ${String(error)})`)
      lines.push(`evidence: ${dir}`)
    }
    lines.push(`result: ${ok ? 'PASS' : 'FAIL'}`)
    const report = lines.join('\n')
    print(report)
    return { summary, checks, report }
  } finally {
    await nc.close().catch(() => undefined)
    await stack.dispose()
    await rm(ledgerDir, { recursive: true, force: true })
  }
}
