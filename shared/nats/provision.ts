/*
 * The `provision` step, run by the admin identity before the workers start
 * (`npm start` and compose do): every stream, KV bucket and consumer of the
 * saga, created or updated to this version's configuration. Idempotent.
 * Service identities cannot create streams or buckets, so this is the only
 * place they come from.
 */
import { jetstreamManager, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { BUCKETS, STREAMS } from '../../schemas/subjects.ts'
import { ADVISORY_STREAM, advisoryStreamConfig } from './dead-letter-capture.ts'
import { isClusterForming, isNatsUnavailable } from './errors.ts'
import {
  ensureOrderIndexConsumers,
  ensureOrderIndexStreams,
  ORDER_INDEX,
  orderIndexStreamConfig,
  orderRetriesStreamConfig,
} from './order-index.ts'
import { ensureCaptureConsumer, ensureSagaConsumer, SAGA_CONSUMER_NAMES } from './saga-consumers.ts'
import {
  ensureBucket,
  ensureStream,
  ensureStreams,
  refuseShrink,
  sagaStreamChecks,
  shrinkPreflight,
  streamInfoIfAny,
  TopologyRefusedError,
  type TopologyLimits,
} from './topology.ts'

export interface ProvisionReport {
  streams: string[]
  /** What the operator should know (an ORDERS stream from an earlier release). */
  warnings: string[]
  buckets: string[]
  consumers: string[]
}

/** Every stream the provision step makes, but the KV buckets' (`KV_<bucket>`). */
export const PROVISIONED_STREAMS: readonly string[] = [
  STREAMS.orders.name,
  STREAMS.deadLetters.name,
  STREAMS.deadlines.name,
  ADVISORY_STREAM,
  ORDER_INDEX.stream,
  ORDER_INDEX.retriesStream,
]

/** Every stream and bucket stream a provision run may change, in the order it changes them. */
const TOPOLOGY_STREAMS: readonly string[] = [
  ...PROVISIONED_STREAMS,
  ...Object.values(BUCKETS).map((b) => `KV_${b}`),
]

/** The configuration of each stream and bucket before a run (null: absent), which a refused run puts back. */
export type TopologySnapshot = ReadonlyMap<string, StreamConfig | null>

/** Read once before the first attempt of a run that is retried while the server is not answering. */
export async function readTopology(nc: NatsConnection, timeoutMs = 5_000): Promise<TopologySnapshot> {
  return await readConfigs(await jetstreamManager(nc, { timeout: timeoutMs }), TOPOLOGY_STREAMS)
}

/** `refusal`, after the streams and buckets changed since `before` were put back: what it says. */
export async function putBackAfter(
  nc: NatsConnection,
  refusal: TopologyRefusedError,
  before: TopologySnapshot,
  timeoutMs = 5_000,
): Promise<ProvisionRefusedError> {
  return new ProvisionRefusedError(
    refusal,
    await putBack(await jetstreamManager(nc, { timeout: timeoutMs }), before),
  )
}

export async function provisionTopology(
  nc: NatsConnection,
  limits: TopologyLimits,
  {
    timeoutMs = 5_000,
    release,
    raiseSealFloor = false,
    before,
  }: {
    timeoutMs?: number
    release?: string
    raiseSealFloor?: boolean
    /** What to put back on a refusal (readTopology); read at the start of this call when not given. */
    before?: TopologySnapshot
  } = {},
): Promise<ProvisionReport> {
  const jsm = await jetstreamManager(nc, { timeout: timeoutMs })
  // Read before anything changes: a refused run leaves every limit as it was.
  const streams = [
    ...sagaStreamChecks(limits),
    { config: advisoryStreamConfig(limits) },
    { config: orderIndexStreamConfig(limits) },
    { config: orderRetriesStreamConfig(limits) },
  ]
  const shrinks = await shrinkPreflight(jsm, streams, limits)
  if (limits.allowShrink !== true) refuseShrink(shrinks)
  const buckets = Object.values(BUCKETS)
  // nats-server checks some limits only as each stream is changed (the
  // storage every stream's cap reserves): one refused puts back the streams
  // and buckets changed before it.
  const snapshot = before ?? (await readConfigs(jsm, TOPOLOGY_STREAMS))
  let orders: StreamConfig
  try {
    orders = await ensureStreams(jsm, limits)
    await ensureStream(jsm, advisoryStreamConfig(limits), { allowShrink: limits.allowShrink === true })
    // The operator console's order index (docs/console.md).
    await ensureOrderIndexStreams(jsm, limits)
    for (const bucket of buckets) await ensureBucket(nc, bucket, limits, { raiseSealFloor })
  } catch (error) {
    // A server not answering yet is waited for (the whole run is tried again), not undone:
    // the caller puts back if it stops waiting (putBackAfter).
    if (error instanceof TopologyRefusedError && !isNatsUnavailable(error) && !isClusterForming(error))
      throw new ProvisionRefusedError(error, await putBack(jsm, snapshot))
    throw error
  }
  const consumers: string[] = []
  for (const name of SAGA_CONSUMER_NAMES) {
    await ensureSagaConsumer(jsm, name, limits, release)
    const capture = await ensureCaptureConsumer(jsm, name)
    consumers.push(name, capture.name)
  }
  // The index writer's: after the buckets, as it reads order-status.
  consumers.push(...(await ensureOrderIndexConsumers(jsm, limits)))
  const warnings = [
    ...(raiseSealFloor
      ? [
          'RECORD_SEAL_FLOOR=now: every record of the sealed buckets written so far is read from now on without ' +
            'its seal being checked (the end of a rolling upgrade; docs/security.md): unset it for later runs',
        ]
      : []),
    ...(orders.allow_msg_schedules === true
      ? [
          `stream ${STREAMS.orders.name} was created by a release that kept order deadlines in it: it still allows ` +
            'message schedules and roll-up headers (nats-server never turns them off), so any identity that publishes ' +
            'an event could schedule events or erase the stream; recreate it once drained (docs/security.md)',
        ]
      : []),
  ]
  return {
    streams: [...PROVISIONED_STREAMS],
    warnings,
    buckets: buckets.map((b) => `KV_${b}`),
    consumers,
  }
}

/**
 * A refusal of nats-server after the run had changed streams or buckets:
 * `restored` were put back as they were before the run, `kept` could not be
 * (each with why), `created` did not exist before and stay.
 */
export class ProvisionRefusedError extends Error {
  override readonly name = 'ProvisionRefusedError'
  constructor(
    readonly refusal: TopologyRefusedError,
    readonly rollback: { restored: string[]; kept: string[]; created: string[] },
  ) {
    const { restored, kept, created } = rollback
    const said = [
      kept.length === 0
        ? restored.length === 0
          ? 'nothing had been changed before it'
          : `what the run had changed before it was put back (${restored.join(', ')})`
        : `put back: ${restored.join(', ') || 'none'}; still changed: ${kept.join('; ')}`,
      ...(created.length > 0 ? [`created by this run and kept: ${created.join(', ')}`] : []),
    ]
    super(`${refusal.message}; ${said.join('; ')}`)
  }
}

/** The configuration of each of `names` that exists. */
async function readConfigs(
  jsm: JetStreamManager,
  names: readonly string[],
): Promise<Map<string, StreamConfig | null>> {
  const configs = new Map<string, StreamConfig | null>()
  for (const name of names) configs.set(name, (await streamInfoIfAny(jsm, name))?.config ?? null)
  return configs
}

/**
 * Each stream whose configuration is no longer what `before` holds, updated
 * back to it: the last changed first (a cap raised later may hold the storage
 * an earlier one needs back), and again while a pass puts one more back.
 */
async function putBack(
  jsm: JetStreamManager,
  before: TopologySnapshot,
): Promise<{ restored: string[]; kept: string[]; created: string[] }> {
  const restored: string[] = []
  const created: string[] = []
  const now = await readConfigs(jsm, [...before.keys()]).catch(() => undefined)
  if (now === undefined) return { restored, kept: ['(could not read the streams back)'], created }
  let pending: [string, StreamConfig][] = []
  for (const [name, was] of [...before].reverse()) {
    const is = now.get(name) ?? null
    if (is === null) continue
    if (was === null) created.unshift(name)
    else if (!sameConfig(was, is)) pending.push([name, was])
  }
  const why = new Map<string, string>()
  for (let progress = true; progress && pending.length > 0;) {
    progress = false
    const left: [string, StreamConfig][] = []
    for (const [name, was] of pending) {
      try {
        await jsm.streams.update(name, was)
        restored.unshift(name)
        progress = true
      } catch (error) {
        why.set(name, error instanceof Error ? error.message : String(error))
        left.push([name, was])
      }
    }
    pending = left
  }
  return { restored, kept: pending.map(([name]) => `${name} (${why.get(name)})`), created }
}

/** The same configuration, but for the `_nats.*` metadata nats-server stamps on every update. */
function sameConfig(a: StreamConfig, b: StreamConfig): boolean {
  const own = (c: StreamConfig) => ({
    ...c,
    metadata: Object.fromEntries(Object.entries(c.metadata ?? {}).filter(([k]) => !k.startsWith('_nats.'))),
  })
  return JSON.stringify(sorted(own(a))) === JSON.stringify(sorted(own(b)))
}

function sorted(value: unknown): unknown {
  return Array.isArray(value)
    ? value.map(sorted)
    : value !== null && typeof value === 'object'
      ? Object.fromEntries(
          Object.entries(value)
            .sort(([x], [y]) => (x < y ? -1 : 1))
            .map(([k, v]) => [k, sorted(v)]),
        )
      : value
}
