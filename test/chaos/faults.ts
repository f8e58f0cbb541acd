// The faults, injected while the load runs, each recorded with when it began
// and when it was over. Pauses here are a fault's schedule and duration
// (like a load generator's ticks), never a wait for the system.
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { STREAMS } from '../../schemas/subjects.ts'
import type { NatsCluster } from '../harness/nats-cluster.ts'
import { waitForStreamLeader } from '../harness/nats-cluster.ts'
import type { NatsServerHandle } from '../harness/nats-server.ts'
import type { ServiceHandle } from '../harness/process.ts'
import { waitFor } from '../harness/wait-for.ts'
import {
  crashWorker,
  reviveWorker,
  type ClusterSagaStack,
  type SagaStack,
  type ServiceProcess,
} from '../support/saga-stack.ts'
import { publishPoisonRound, type PoisonMessage } from './poison.ts'
import type { ChaosProfile } from './profiles.ts'
import type { FaultRecord } from './recovery.ts'
import { ledgerCharges, type LedgerCharge } from '../support/money.ts'

export interface FaultContext {
  stack: SagaStack | ClusterSagaStack
  nc: NatsConnection
  js: JetStreamClient
  jsm: JetStreamManager
  profile: ChaosProfile
  loadStartedAt: number
  faults: FaultRecord[]
  poison: PoisonMessage[]
  /** Processes killed and replaced, oldest first: their output is evidence. */
  retired: { worker: string; handle: ServiceHandle }[]
  /** `GET /charges` of each gateway process just before it was killed. */
  gatewaySnapshots: GatewaySnapshot[]
}

/** The processor's ledger as one gateway process showed it. */
export type GatewaySnapshot = readonly LedgerCharge[]

const hold = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))

/** Holds until `offsetMs` after the load started: the fault schedule. */
export const atOffset = (ctx: FaultContext, offsetMs: number): Promise<void> =>
  hold(ctx.loadStartedAt + offsetMs - Date.now())

/** `count` instants spread over the middle of the load, in ms from its start. */
export function schedule(count: number, durationMs: number, from = 0.15, to = 0.7): number[] {
  if (count <= 1) return [Math.round(durationMs * from)]
  return Array.from({ length: count }, (_, i) =>
    Math.round(durationMs * (from + ((to - from) * i) / (count - 1))),
  )
}

/** kill -9 of a worker, down for `workerDownMs`, then started again on its port. */
export async function killAndRevive(ctx: FaultContext, proc: ServiceProcess, downMs: number): Promise<void> {
  const startedAt = Date.now()
  const pid = proc.handle.pid
  await crashWorker(proc)
  await hold(downMs)
  const previous = await reviveWorker(proc)
  ctx.retired.push({ worker: proc.worker, handle: previous })
  ctx.faults.push({
    name: `kill -9 ${proc.worker}`,
    startedAt,
    endedAt: Date.now(),
    notes: [`pid ${pid} -> ${proc.handle.pid}`],
  })
}

/**
 * kill -9 of the gateway sandbox, down for `downMs`, then back on its port
 * with the same ledger file. Its ledger is read just before the kill, to
 * check that the restarted sandbox still has all of it.
 */
export async function gatewayOutage(ctx: FaultContext, downMs: number): Promise<void> {
  const { gateway } = ctx.stack
  ctx.gatewaySnapshots.push(await ledgerCharges(gateway.url))
  const startedAt = Date.now()
  await crashWorker(gateway)
  await hold(downMs)
  const previous = await reviveWorker(gateway)
  ctx.retired.push({ worker: gateway.worker, handle: previous })
  ctx.faults.push({ name: `gateway down ${downMs} ms`, startedAt, endedAt: Date.now(), notes: [] })
}

/** kill -9 of the single nats-server, down for `downMs`, restarted on its ports with its store. */
export async function restartServer(
  ctx: FaultContext,
  server: NatsServerHandle,
  downMs: number,
): Promise<void> {
  const startedAt = Date.now()
  await server.kill()
  await hold(downMs)
  await server.restart()
  ctx.faults.push({
    name: 'kill -9 nats-server',
    startedAt,
    endedAt: Date.now(),
    notes: [`restarted after ${Date.now() - startedAt} ms`],
  })
}

/**
 * kill -9 of the node leading the ORDERS stream. The fault is over at the
 * kill (the cluster must fail over by itself); the node is restarted
 * `downMs` later and the stream waited for until all replicas are current.
 */
export async function killStreamLeader(
  ctx: FaultContext,
  cluster: NatsCluster,
  downMs: number,
): Promise<void> {
  const leader = await waitForStreamLeader(ctx.nc, STREAMS.orders.name, 15_000)
  const node = cluster.nodeByName(leader)
  const led = await streamsLedBy(ctx.jsm, leader)
  const startedAt = Date.now()
  await node.kill()
  const killedAt = Date.now()
  const record: FaultRecord = {
    name: `kill -9 ORDERS leader ${leader}`,
    startedAt,
    endedAt: killedAt,
    notes: [`it led ${led.join(' ')}`],
  }
  ctx.faults.push(record)
  const next = await waitForStreamLeader(ctx.nc, STREAMS.orders.name, 20_000, leader)
  record.notes.push(`new leader ${next} after ${Date.now() - killedAt} ms`)
  await hold(downMs - (Date.now() - killedAt))
  await node.restart()
  record.notes.push(`node back after ${Date.now() - killedAt} ms`)
  // nats-server 2.10.27 sometimes left a restarted replica behind with no
  // catch-up under way (seen here 3 times, lag ~1,400 for over 30 s). What an
  // operator would do: restart the replica that stays behind, once. That
  // restart is a fault of its own in the record (recovery is measured after it).
  // Measured on 2.15.1 in docs/nats-server.md; kept as long as it cannot be
  // shown unneeded (it is logged with "[chaos] replica ... left behind").
  let behind = await replicasNotCurrent(ctx.jsm, cluster.nodes.length, 30_000)
  if (behind.length > 0) {
    console.warn(`[chaos] ORDERS replica ${behind.join(' ')} left behind 30 s after ${node.name} came back`)
    record.notes.push(`replica ${behind.join(' ')} not current after 30 s`)
    const remedy: FaultRecord = {
      name: `restart ORDERS replica ${behind.join(' ')} left behind`,
      startedAt: Date.now(),
      endedAt: Date.now(),
      notes: [],
    }
    ctx.faults.push(remedy)
    for (const name of behind) await cluster.nodeByName(name).restart()
    remedy.endedAt = Date.now()
    behind = await replicasNotCurrent(ctx.jsm, cluster.nodes.length, 30_000)
    if (behind.length > 0)
      throw new Error(`ORDERS replicas ${behind.join(' ')} still not current after a restart`)
    remedy.notes.push(`replicas current after ${Date.now() - remedy.endedAt} ms`)
  }
  record.notes.push(`replicas current after ${Date.now() - killedAt} ms`)
}

/**
 * Waits up to `timeoutMs` for every ORDERS replica to be current; returns the
 * nodes still behind (empty when all caught up). Throws when the stream info
 * never answered or a replica is missing from it.
 */
async function replicasNotCurrent(
  jsm: JetStreamManager,
  nodes: number,
  timeoutMs: number,
): Promise<string[]> {
  let seen: { leader: string; replicas: { name: string; current: boolean; offline?: boolean }[] } | undefined
  await waitFor(
    async () => {
      const cluster = (await jsm.streams.info(STREAMS.orders.name)).cluster
      seen = { leader: cluster?.leader ?? '', replicas: cluster?.replicas ?? [] }
      return seen.replicas.length === nodes - 1 && seen.replicas.every((r) => r.current && r.offline !== true)
    },
    { timeoutMs, intervalMs: 250, message: 'every ORDERS replica current again' },
  ).catch(() => undefined)
  if (seen === undefined) throw new Error(`no ORDERS stream info within ${timeoutMs} ms`)
  if (seen.replicas.length !== nodes - 1)
    throw new Error(
      `ORDERS has ${seen.replicas.length} replicas besides leader ${seen.leader}, expected ${nodes - 1}`,
    )
  return seen.replicas.filter((r) => !r.current || r.offline === true).map((r) => r.name)
}

/** The streams (KV buckets included) whose RAFT leader is `node`; only a note, so a slow API gives "?". */
async function streamsLedBy(jsm: JetStreamManager, node: string): Promise<string[]> {
  const led = new Set<string>()
  try {
    for await (const info of jsm.streams.list()) if (info.cluster?.leader === node) led.add(info.config.name)
  } catch {
    return ['?']
  }
  return [...led].sort()
}

/** One round of poison (a malformed and a schema-violating message per consumed subject). */
export async function injectPoison(ctx: FaultContext): Promise<void> {
  const startedAt = Date.now()
  const published = await publishPoisonRound(ctx.js)
  ctx.poison.push(...published)
  ctx.faults.push({
    name: `poison x${published.length}`,
    startedAt,
    endedAt: Date.now(),
    notes: [`seqs ${published.map((p) => p.seq).join(',')}`],
  })
}
