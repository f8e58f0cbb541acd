// The fault scenarios; each runs on a fresh stack, one at a time.
import {
  atOffset,
  gatewayOutage,
  injectPoison,
  killAndRevive,
  killStreamLeader,
  restartServer,
  schedule,
  type FaultContext,
} from './faults.ts'
import type { ScenarioCheckInput } from './check-run.ts'
import { PROCESSOR_SCENARIOS } from './processor-scenarios.ts'
import type { ChaosProfile } from './profiles.ts'
import type { CheckResult } from './report.ts'
import type { SagaStackOptions, ServiceProcess } from '../support/saga-stack.ts'

export interface ChaosScenario {
  name: string
  title: (profile: ChaosProfile) => string
  /** A 3-node cluster with NATS_REPLICAS=3 instead of one server. */
  cluster: boolean
  stackOptions?: SagaStackOptions
  /** Adjusts the run to the scenario (a slow fault needs a longer load). */
  adapt?: (profile: ChaosProfile) => ChaosProfile
  inject: (ctx: FaultContext) => Promise<void>
  /** What this scenario is about, checked after the checks every run gets. */
  check?: (input: ScenarioCheckInput) => CheckResult[]
}

function killWorker(
  name: 'order' | 'inventory' | 'payment',
  pick: (ctx: FaultContext) => ServiceProcess,
): ChaosScenario {
  return {
    name: `kill-${name}`,
    title: (p) => `kill -9 and restart of the ${name} worker, ${p.faults}x, down ${p.workerDownMs} ms each`,
    cluster: false,
    async inject(ctx) {
      for (const at of schedule(ctx.profile.faults, ctx.profile.durationMs)) {
        await atOffset(ctx, at)
        await killAndRevive(ctx, pick(ctx), ctx.profile.workerDownMs)
      }
    },
  }
}

/** Retry budget of one round of gateway calls as the stack configures it (PAYMENT_RETRIES 3, 500 ms timeout, 50 ms first delay). */
const PAYMENT_RETRY_BUDGET_MS = 4 * 500 + 50 + 100 + 200

export const SCENARIOS: readonly ChaosScenario[] = [
  killWorker('order', (ctx) => ctx.stack.order),
  killWorker('inventory', (ctx) => ctx.stack.inventories[0] as ServiceProcess),
  killWorker('payment', (ctx) => ctx.stack.payment),
  {
    name: 'kill-stream-leader',
    title: (p) =>
      `kill -9 of the ORDERS stream leader in a 3-node cluster (R3), ${p.faults}x, node back after ${p.nodeDownMs} ms`,
    cluster: true,
    // A leader kill takes ~10 s to play out (election ~5.5 s, node down, replicas catching up): room for each.
    adapt: (p) => ({ ...p, durationMs: Math.max(p.durationMs, p.faults * 10_000 + 4_000) }),
    async inject(ctx) {
      if (!('cluster' in ctx.stack)) throw new Error('kill-stream-leader needs the cluster stack')
      for (const at of schedule(ctx.profile.faults, ctx.profile.durationMs, 0.1, 0.6)) {
        await atOffset(ctx, at)
        await killStreamLeader(ctx, ctx.stack.cluster, ctx.profile.nodeDownMs)
      }
    },
  },
  {
    name: 'restart-server',
    title: (p) =>
      `kill -9 and restart of the single nats-server (file store, same ports and dir), ${p.faults}x, down ${p.serverDownMs} ms`,
    cluster: false,
    async inject(ctx) {
      if (!('server' in ctx.stack)) throw new Error('restart-server needs the single-server stack')
      for (const at of schedule(ctx.profile.faults, ctx.profile.durationMs)) {
        await atOffset(ctx, at)
        await restartServer(ctx, ctx.stack.server, ctx.profile.serverDownMs)
      }
    },
  },
  {
    name: 'gateway-outage',
    title: (p) =>
      `payment gateway killed for ${p.gatewayOutageMs} ms (one round of retries ~${PAYMENT_RETRY_BUDGET_MS} ms, settle budget 30 s), restarted on its port with its ledger file`,
    cluster: false,
    async inject(ctx) {
      await atOffset(ctx, Math.round(ctx.profile.durationMs * 0.15))
      await gatewayOutage(ctx, ctx.profile.gatewayOutageMs)
    },
  },
  {
    name: 'poison',
    title: (p) =>
      `poison on orders.created, inventory.reserved, payments.completed, payments.failed (malformed + schema-violating), ${p.faults} rounds`,
    cluster: false,
    async inject(ctx) {
      for (const at of schedule(ctx.profile.faults, ctx.profile.durationMs, 0.1, 0.9)) {
        await atOffset(ctx, at)
        await injectPoison(ctx)
      }
    },
  },
  ...PROCESSOR_SCENARIOS,
]
