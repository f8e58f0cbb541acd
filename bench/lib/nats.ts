// The one nats-server of a bench run (the shipped settings: file storage,
// sync_interval 1s, NKEY authentication from the access table) plus what the
// bench reads from it, connected as admin: stream sequences, consumer
// backlogs and per-connection message counts (/connz).
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { natsServerBin } from '../../test/harness/nats-server.ts'
import { createLineBuffer } from '../../test/harness/lines.ts'
import { spawnNatsServer, stopNatsProcess } from '../../test/harness/nats-process.ts'
import { DEFAULT_LIMITS, orderStreamConfig } from '../../shared/nats/topology.ts'
import { waitFor } from '../../test/harness/wait-for.ts'
import type { BenchSecurity } from './security.ts'

export interface BenchNats {
  bin: string
  url: string
  monitorUrl: string
  pid: number
  nc: NatsConnection
  jsm: JetStreamManager
  stop(): Promise<void>
}

/** Starts the server with `security`'s authorization block; `nc` and `jsm` are the admin's. */
export async function startBenchNats(dir: string, security: BenchSecurity): Promise<BenchNats> {
  const bin = await natsServerBin()
  const configFile = join(dir, 'nats-server.conf')
  // BENCH_NATS_SYNC_INTERVAL (diagnostic; shipped: 1s): how often the server fsyncs its streams.
  const syncInterval = process.env['BENCH_NATS_SYNC_INTERVAL'] || '1s'
  if (!/^\d+(ms|s|m)$|^always$/.test(syncInterval))
    throw new Error(`BENCH_NATS_SYNC_INTERVAL=${syncInterval}: want a duration (500ms, 1s, 2m) or always`)
  await writeFile(
    configFile,
    [
      'server_name: "bench"',
      'listen: "127.0.0.1:-1"',
      'http: "127.0.0.1:-1"',
      `jetstream { store_dir: ${JSON.stringify(join(dir, 'js'))}, sync_interval: ${syncInterval} }`,
      security.authorization,
    ].join('\n'),
  )
  const log = createLineBuffer(2_000)
  const proc = await spawnNatsServer({
    bin,
    configFile,
    cwd: dir,
    log,
    websocket: false,
    monitor: true,
    timeoutMs: 10_000,
  })
  const url = `nats://127.0.0.1:${proc.port}`
  const nc = await connect({
    servers: url,
    name: 'bench',
    timeout: 5_000,
    ...security.natsAuth('admin'),
  }).catch(async (error: unknown) => {
    await stopNatsProcess(proc, 'SIGTERM', 5_000)
    throw error
  })
  const jsm = await jetstreamManager(nc, { timeout: 10_000 })
  return {
    bin,
    url,
    monitorUrl: `http://127.0.0.1:${proc.monitorPort ?? 0}`,
    pid: proc.pid,
    nc,
    jsm,
    async stop() {
      await nc.close().catch(() => undefined)
      await stopNatsProcess(proc, 'SIGTERM', 5_000)
    },
  }
}

/** A stream configured like ORDERS (file storage, same duplicate window) for the baselines. */
export async function addStreamLikeOrders(
  jsm: JetStreamManager,
  name: string,
  subjects: string[],
): Promise<void> {
  await jsm.streams.add({ ...orderStreamConfig(DEFAULT_LIMITS), name, subjects, description: 'bench' })
}

/** The baselines' streams (BENCH_BARE, BENCH_EXPRESS), configured like ORDERS; adding an identical stream again is a no-op. */
export async function ensureBaselineStreams(jsm: JetStreamManager): Promise<void> {
  await addStreamLikeOrders(jsm, 'BENCH_BARE', ['bench.bare.>'])
  await addStreamLikeOrders(jsm, 'BENCH_EXPRESS', ['bench.express.>'])
}

/** Last sequence of every stream: writes made since a snapshot are the difference. */
export async function streamSequences(jsm: JetStreamManager): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  for await (const info of jsm.streams.list()) out[info.config.name] = info.state.last_seq
  return out
}

export function sequenceDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [name, seq] of Object.entries(after)) out[name] = seq - (before[name] ?? 0)
  return out
}

/** Messages per subject in a stream, counted by the server. */
export async function subjectCounts(jsm: JetStreamManager, stream: string): Promise<Record<string, number>> {
  const info = await jsm.streams.info(stream, { subjects_filter: '>' })
  return { ...(info.state.subjects ?? {}) }
}

/**
 * Waits (bounded) until every consumer of `stream` (or only those named in
 * `only`) has nothing pending or unacknowledged. The provision step makes
 * every saga consumer up front: a consumer whose worker is not running keeps
 * its backlog, so a section running part of the saga names its consumers.
 * A timeout names the consumers still busy and what they held.
 */
export async function waitConsumersIdle(
  jsm: JetStreamManager,
  stream: string,
  timeoutMs: number,
  only?: readonly string[],
): Promise<void> {
  // The last complete look (the deadline may end one under way).
  let busy: string[] = []
  await waitFor(
    async () => {
      const now: string[] = []
      for await (const c of jsm.consumers.list(stream)) {
        if (only !== undefined && !only.includes(c.name)) continue
        if (c.num_pending > 0 || c.num_ack_pending > 0)
          now.push(`${c.name} (${c.num_pending} pending, ${c.num_ack_pending} unacknowledged)`)
      }
      busy = now
      return now.length === 0
    },
    { timeoutMs, intervalMs: 250, message: `consumers ${only?.join(', ') ?? 'all'} of ${stream} idle` },
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}; still busy: ${busy.join(', ')}`, { cause: error })
  })
}

export interface ConnCounters {
  inMsgs: number
  outMsgs: number
  inBytes: number
  outBytes: number
}

/** Message counters of every client connection, summed by connection name. */
export async function connectionCounters(monitorUrl: string): Promise<Record<string, ConnCounters>> {
  const res = await fetch(`${monitorUrl}/connz?limit=1024`, { signal: AbortSignal.timeout(5_000) })
  const body = (await res.json()) as {
    connections?: { name?: string; in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number }[]
  }
  const out: Record<string, ConnCounters> = {}
  for (const c of body.connections ?? []) {
    const key = c.name ?? '(unnamed)'
    const acc = (out[key] ??= { inMsgs: 0, outMsgs: 0, inBytes: 0, outBytes: 0 })
    acc.inMsgs += c.in_msgs
    acc.outMsgs += c.out_msgs
    acc.inBytes += c.in_bytes
    acc.outBytes += c.out_bytes
  }
  return out
}
