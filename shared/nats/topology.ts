import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream'
import { Kvm, type KV } from '@nats-io/kv'
import { nanos, type NatsConnection } from '@nats-io/nats-core'
import { BUCKETS, STREAMS } from '../../schemas/subjects.ts'
import { filtersOverlap } from './subjects.ts'
import { SEAL_FLOOR_METADATA, SEALED_BUCKETS } from '../security/record-seal.ts'

const MiB = 1024 * 1024
const HOUR_MS = 60 * 60_000
const DAY_MS = 24 * HOUR_MS

/** Limits every stream and consumer is created with; each has an env var (see README). */
export interface TopologyLimits {
  /** 1 for a single server, 3 on a 3-node cluster. */
  replicas: number
  /** JetStream de-duplication window for `Nats-Msg-Id`. */
  duplicateWindowMs: number
  streamMaxAgeMs: number
  streamMaxBytes: number
  deadLetterMaxAgeMs: number
  /** De-duplication window of DLQ: the loop's and the advisory capture's copy of one message meet in it. */
  deadLetterDuplicateWindowMs: number
  ackWaitMs: number
  maxDeliver: number
  maxAckPending: number
  /** Size cap of each KV bucket (when full, its writes fail until keys expire or the cap is raised). */
  bucketMaxBytes: Record<BucketName, number>
  /**
   * Apply a size cap below what a stream or bucket holds, or a retention
   * shorter than its oldest message's age (PROVISION_ALLOW_SHRINK): events
   * deleted, or a bucket's writes refused. Refused by default.
   */
  allowShrink?: boolean
}

export const DEFAULT_LIMITS: TopologyLimits = {
  replicas: 1,
  duplicateWindowMs: 2 * 60_000,
  streamMaxAgeMs: 7 * DAY_MS,
  streamMaxBytes: 1024 * MiB,
  deadLetterMaxAgeMs: 30 * DAY_MS,
  deadLetterDuplicateWindowMs: 24 * HOUR_MS,
  ackWaitMs: 30_000,
  maxDeliver: 5,
  maxAckPending: 1_000,
  // A status record is ~0.5 KB and lives 30 days: 2 GiB holds ~4 million orders.
  bucketMaxBytes: {
    [BUCKETS.orderStatus]: 2048 * MiB,
    [BUCKETS.idempotency]: 512 * MiB,
    [BUCKETS.stock]: 256 * MiB,
    [BUCKETS.reservations]: 1024 * MiB,
    // One small record per order (~0.3 KB), 30 days.
    [BUCKETS.decisions]: 1024 * MiB,
    // Only the orders still being checked with the processor: small.
    [BUCKETS.reconciliation]: 64 * MiB,
    // Analytics: the facts of an order (~0.3 KB), 30 days.
    [BUCKETS.analyticsOrders]: 1024 * MiB,
    // Analytics: a minute's window (~1-20 KB with its skus), kept until removed.
    [BUCKETS.analyticsWindows]: 1024 * MiB,
  },
}

export function orderStreamConfig(limits: TopologyLimits): Partial<StreamConfig> & { name: string } {
  return {
    name: STREAMS.orders.name,
    description: 'Order saga events',
    subjects: [...STREAMS.orders.subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: limits.replicas,
    duplicate_window: nanos(limits.duplicateWindowMs),
    max_age: nanos(limits.streamMaxAgeMs),
    max_bytes: limits.streamMaxBytes,
    max_msg_size: 1 * MiB,
    allow_direct: true,
    // No message schedules here (they live in DEADLINES): a stream that
    // allows them must allow roll-up headers, with which one message from any
    // identity that publishes an event would erase the stream.
    allow_rollup_hdrs: false,
    // An order published in two versions is one atomic batch (2.12+).
    allow_atomic: true,
  }
}

/**
 * Order deadlines: nats-server message schedules (2.12+) on
 * `deadlines.pending.*`, fired on `deadlines.fired.>`. Only the inventory
 * identity publishes here; the roll-up headers nats-server requires beside
 * schedules reach nothing but this stream. A work queue: a schedule stays
 * until it fires (no consumer reads `deadlines.pending.*`), a fired deadline
 * until the inventory worker's relay acks it, so the stream holds only the
 * orders within their deadline.
 */
export function deadlineStreamConfig(limits: TopologyLimits): Partial<StreamConfig> & { name: string } {
  return {
    name: STREAMS.deadlines.name,
    description: 'Order deadlines: schedules until due, then the cancellation the inventory worker relays',
    subjects: [...STREAMS.deadlines.subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Workqueue,
    // Schedules cannot use discard new. A deadline is ~0.7 KB: 256 MiB holds
    // ~380,000 orders within their deadline (or fired and not relayed yet);
    // past that the oldest go. JetStream reserves it from the file store.
    discard: DiscardPolicy.Old,
    num_replicas: limits.replicas,
    duplicate_window: nanos(limits.duplicateWindowMs),
    max_age: nanos(limits.streamMaxAgeMs),
    max_bytes: 256 * MiB,
    max_msg_size: 64 * 1024,
    allow_msg_schedules: true,
  }
}

export function deadLetterStreamConfig(limits: TopologyLimits): Partial<StreamConfig> & { name: string } {
  return {
    name: STREAMS.deadLetters.name,
    description: 'Messages terminated as poison or out of deliveries, with the reason in headers',
    subjects: [...STREAMS.deadLetters.subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: limits.replicas,
    duplicate_window: nanos(limits.deadLetterDuplicateWindowMs),
    max_age: nanos(limits.deadLetterMaxAgeMs),
    max_bytes: 256 * MiB,
    max_msg_size: 2 * MiB,
  }
}

/** A durable pull consumer with explicit acks and the safe limits. */
export function durableConsumerConfig(
  durable: string,
  filterSubjects: readonly string[],
  limits: TopologyLimits,
): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(limits.ackWaitMs),
    max_deliver: limits.maxDeliver,
    max_ack_pending: limits.maxAckPending,
    // Both keys, always: an update merges into the consumer's stored config,
    // so whichever one this version leaves unused is cleared explicitly. No
    // filters means every subject of the stream.
    ...(filterSubjects.length === 1 && filterSubjects[0] !== undefined
      ? { filter_subject: filterSubjects[0], filter_subjects: [] }
      : { filter_subject: '', filter_subjects: [...filterSubjects] }),
  }
}

/** A stream or bucket the admin's `provision` step has not created (yet). */
export class NotProvisionedError extends Error {
  override readonly name = 'NotProvisionedError'
}

/** Resolves once every stream exists; a missing one is a {@link NotProvisionedError}. */
export async function requireStreams(jsm: JetStreamManager, names: readonly string[]): Promise<void> {
  for (const name of names) {
    try {
      await jsm.streams.info(name)
    } catch (error) {
      if (!isNotFound(error, JetStreamApiCodes.StreamNotFound)) throw error
      throw new NotProvisionedError(
        `stream ${name} does not exist: run the provision step (npm run provision)`,
        {
          cause: error,
        },
      )
    }
  }
}

function withSealFloor(metadata: Record<string, string> | undefined, floor: number): Record<string, string> {
  return { ...metadata, [SEAL_FLOOR_METADATA]: String(floor) }
}

/** Binds a provisioned KV bucket (reads from the stream leader, see ensureBucket). */
export async function bindBucket(
  nc: NatsConnection,
  name: BucketName,
  /** Every read and write of the bucket waits at most this (NATS_REQUEST_TIMEOUT_MS; nats.js's own default is 5 s). */
  timeoutMs?: number,
): Promise<KV> {
  const options = { checkAPI: false, ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }) }
  const jsm = await jetstreamManager(nc, options)
  await requireStreams(jsm, [`KV_${name}`])
  return await new Kvm(jetstream(nc, options)).open(name, { allow_direct: false })
}

function isNotFound(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code
}

/** An update that would lower a stream's replicas: refused, as a forgotten NATS_REPLICAS would do it silently. */
export class ReplicasLoweredError extends Error {
  override readonly name = 'ReplicasLoweredError'
}

/**
 * A size cap below what a stream or bucket holds, or a retention shorter than
 * its oldest message's age: nats-server would delete events at once (a
 * stream) or refuse every write (a bucket). Refused unless
 * PROVISION_ALLOW_SHRINK=true.
 */
export class LimitLoweredError extends Error {
  override readonly name = 'LimitLoweredError'
}

/** The stream's info, or undefined when there is no such stream. */
export function streamInfoIfAny(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  return jsm.streams.info(name).catch((error: unknown) => {
    if (isNotFound(error, JetStreamApiCodes.StreamNotFound)) return undefined
    throw error
  })
}

/** nats-server refused to create or change one stream or bucket: `target` names it. */
export class TopologyRefusedError extends Error {
  override readonly name = 'TopologyRefusedError'
  constructor(
    /** `stream ORDERS`, `bucket order-status`. */
    readonly target: string,
    override readonly cause: JetStreamApiError,
  ) {
    super(`${target}: ${cause.message}`)
  }
}

/** `work()`, a refusal of which names `target`. */
async function refusedAs<T>(target: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw error instanceof JetStreamApiError ? new TopologyRefusedError(target, error) : error
  }
}

/** What applying `maxBytes` and `maxAgeNanos` to a stream in `state` would cost; empty when nothing. */
function shrinkProblems(
  what: string,
  state: { bytes: number; messages: number; first_ts: string },
  {
    maxBytes,
    maxAgeNanos,
    sizeSetting,
    ageSetting,
  }: { maxBytes?: number; maxAgeNanos?: number; sizeSetting?: string; ageSetting?: string },
): string[] {
  const problems: string[] = []
  // A cap no setting controls is this release's own.
  const named = (setting: string | undefined, value: number) =>
    setting === undefined ? `this release's cap of ${value}` : `${setting}=${value}`
  if (maxBytes !== undefined && maxBytes > 0 && state.bytes > maxBytes)
    problems.push(
      `${what} holds ${state.bytes} bytes; ${named(sizeSetting, maxBytes)} is below that (${what.startsWith('bucket') ? 'every write would be refused' : 'its oldest events would be deleted'})`,
    )
  const firstMs = Date.parse(state.first_ts)
  if (maxAgeNanos !== undefined && maxAgeNanos > 0 && state.messages > 0 && Number.isFinite(firstMs)) {
    const maxAgeMs = maxAgeNanos / 1_000_000
    if (Date.now() - firstMs > maxAgeMs)
      problems.push(
        `${what} holds events older than ${named(ageSetting, maxAgeMs)} ms (the oldest from ${state.first_ts}); they would be deleted`,
      )
  }
  return problems
}

/** A stream the provision step makes, with the settings of its size and age (unset: this release's). */
export interface StreamCheck {
  config: Partial<StreamConfig> & { name: string }
  sizeSetting?: string | undefined
  ageSetting?: string | undefined
}

/** What updating a stream in `state` to `check.config` would delete. */
function streamShrinkProblems(
  existing: StreamConfig,
  state: { bytes: number; messages: number; first_ts: string },
  { config, sizeSetting, ageSetting }: StreamCheck,
): string[] {
  const sizeChanged = config.max_bytes !== undefined && config.max_bytes !== existing.max_bytes
  const ageChanged = config.max_age !== undefined && config.max_age !== existing.max_age
  return shrinkProblems(`stream ${config.name}`, state, {
    ...(sizeChanged ? { maxBytes: config.max_bytes } : {}),
    ...(ageChanged ? { maxAgeNanos: config.max_age } : {}),
    ...(sizeSetting === undefined ? {} : { sizeSetting }),
    ...(ageSetting === undefined ? {} : { ageSetting }),
  })
}

/** The saga's own streams, as {@link ensureStreams} makes them. */
export function sagaStreamChecks(limits: TopologyLimits): StreamCheck[] {
  return [
    { config: orderStreamConfig(limits), sizeSetting: 'STREAM_MAX_BYTES', ageSetting: 'STREAM_MAX_AGE_MS' },
    { config: deadLetterStreamConfig(limits) },
    { config: deadlineStreamConfig(limits), ageSetting: 'STREAM_MAX_AGE_MS' },
  ]
}

/**
 * Every limit of these streams and of the KV buckets that would delete events
 * or refuse writes, read before anything is changed: a refused provision run
 * changes nothing, and names every problem at once. Lowered replicas throw
 * {@link ReplicasLoweredError} here too, before any update.
 */
export async function shrinkPreflight(
  jsm: JetStreamManager,
  streams: readonly StreamCheck[],
  limits: TopologyLimits,
): Promise<string[]> {
  const problems: string[] = []
  const lowered: string[] = []
  const infoOf = (name: string) => streamInfoIfAny(jsm, name)
  const replicasOf = (what: string, has: number, wanted: number) => {
    if (wanted < has) lowered.push(`${what} has ${has} replicas; NATS_REPLICAS=${wanted} would lower them`)
  }
  for (const check of streams) {
    const info = await infoOf(check.config.name)
    if (info === undefined) continue
    replicasOf(
      `stream ${check.config.name}`,
      info.config.num_replicas,
      check.config.num_replicas ?? info.config.num_replicas,
    )
    problems.push(...streamShrinkProblems(info.config, info.state, check))
  }
  for (const name of Object.values(BUCKETS)) {
    const info = await infoOf(`KV_${name}`)
    const maxBytes = limits.bucketMaxBytes[name]
    if (info !== undefined) replicasOf(`bucket ${name}`, info.config.num_replicas, limits.replicas)
    if (info !== undefined && info.config.max_bytes !== maxBytes)
      problems.push(
        ...shrinkProblems(`bucket ${name}`, info.state, {
          maxBytes,
          sizeSetting: bucketSizeSetting(name),
        }),
      )
  }
  // Whatever PROVISION_ALLOW_SHRINK says: lowering replicas is the nats CLI's (as in ensureStream).
  if (lowered.length > 0)
    throw new ReplicasLoweredError(
      `${lowered.join('; ')} (set NATS_REPLICAS to what they have, or lower them deliberately with the nats CLI)`,
    )
  return problems
}

/**
 * The setting of a bucket's size cap (docs/configuration.md). A function, not
 * a table: a module-level object with computed keys is kept in every bundle
 * that imports this module (the Worker's takes DEFAULT_LIMITS from it).
 */
function bucketSizeSetting(name: BucketName): string {
  const settings: Record<BucketName, string> = {
    [BUCKETS.orderStatus]: 'KV_ORDER_STATUS_MAX_BYTES',
    [BUCKETS.idempotency]: 'KV_IDEMPOTENCY_MAX_BYTES',
    [BUCKETS.stock]: 'KV_STOCK_MAX_BYTES',
    [BUCKETS.reservations]: 'KV_RESERVATIONS_MAX_BYTES',
    [BUCKETS.decisions]: 'KV_DECISIONS_MAX_BYTES',
    [BUCKETS.reconciliation]: 'KV_RECONCILIATION_MAX_BYTES',
    [BUCKETS.analyticsOrders]: 'KV_ANALYTICS_ORDERS_MAX_BYTES',
    [BUCKETS.analyticsWindows]: 'KV_ANALYTICS_WINDOWS_MAX_BYTES',
  }
  return settings[name]
}

export function refuseShrink(problems: readonly string[]): void {
  if (problems.length === 0) return
  throw new LimitLoweredError(
    `${problems.join('; ')}: raise the setting, or set PROVISION_ALLOW_SHRINK=true to apply it (docs/configuration.md, provision)`,
  )
}

/**
 * Creates the stream, or updates it to this configuration. Idempotent. It
 * never lowers the replicas of an existing stream (that is an operator's
 * decision, made with the nats CLI): it throws {@link ReplicasLoweredError}.
 * Nor, unless `allowShrink`, a size cap below what it holds or a retention
 * that would delete its oldest events: {@link LimitLoweredError}.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
  {
    allowShrink = false,
    sizeSetting,
    ageSetting,
  }: {
    allowShrink?: boolean
    /** The settings of its `max_bytes` and `max_age`, named in a refusal; unset: a cap of this release. */
    sizeSetting?: string | undefined
    ageSetting?: string | undefined
  } = {},
) {
  let existing: StreamConfig
  let state: { bytes: number; messages: number; first_ts: string }
  try {
    const info = await jsm.streams.info(config.name)
    existing = info.config
    state = info.state
  } catch (error) {
    if (!isNotFound(error, JetStreamApiCodes.StreamNotFound)) throw error
    return await refusedAs(`stream ${config.name}`, () => jsm.streams.add(config))
  }
  const wanted = config.num_replicas ?? existing.num_replicas
  if (wanted < existing.num_replicas) {
    throw new ReplicasLoweredError(
      `stream ${config.name} has ${existing.num_replicas} replicas; NATS_REPLICAS=${wanted} would lower them ` +
        `(set NATS_REPLICAS=${existing.num_replicas}, or lower them deliberately with the nats CLI)`,
    )
  }
  if (!allowShrink) refuseShrink(streamShrinkProblems(existing, state, { config, sizeSetting, ageSetting }))
  return await refusedAs(`stream ${config.name}`, () =>
    jsm.streams.update(config.name, { ...existing, ...UNSET_LIMITS, ...config }),
  )
}

/**
 * Limits this project never sets, put back to none on an update: a stream
 * made or changed by hand with, say, `max_msgs: 10` would otherwise keep
 * dropping events the saga still needs while the provision step says done.
 */
const UNSET_LIMITS: Partial<StreamConfig> = { max_msgs: -1, max_msgs_per_subject: -1, max_consumers: -1 }

export interface EnsureConsumerOptions {
  /**
   * The durable this consumer's subjects were split off from. Created while
   * that one still delivers some of them (an upgrade that moves them here),
   * it starts after the last message the other acked in order, so handled
   * history is not delivered again; otherwise it starts at the beginning of
   * the stream like any other.
   */
  splitFrom?: string
  /** An existing consumer whose configuration passes this is left as it is (a later release's). */
  keep?: (existing: ConsumerConfig) => boolean
}

/** Creates the durable consumer, or updates it to this configuration. Idempotent. */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
  { splitFrom, keep }: EnsureConsumerOptions = {},
) {
  const { durable_name: name, deliver_policy: _policy, ...mutable } = config
  try {
    const existing = await jsm.consumers.info(stream, name)
    if (keep?.(existing.config) === true) return existing
    // The start position of a consumer is fixed once created.
    return await jsm.consumers.update(stream, name, mutable)
  } catch (error) {
    if (!isNotFound(error, JetStreamApiCodes.ConsumerNotFound)) throw error
  }
  const start = splitFrom === undefined ? undefined : await splitStart(jsm, stream, splitFrom, config)
  try {
    return await jsm.consumers.add(
      stream,
      start === undefined
        ? config
        : { ...config, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start },
    )
  } catch (error) {
    // Another instance created it in the meantime (maybe from another start): take it as it is.
    const exists = await jsm.consumers.info(stream, name).then(
      () => true,
      () => false,
    )
    if (!exists) throw error
    return await jsm.consumers.update(stream, name, mutable)
  }
}

/** The stream sequence a consumer split off from `from` starts at, or undefined (see `splitFrom`). */
async function splitStart(
  jsm: JetStreamManager,
  stream: string,
  from: string,
  config: Partial<ConsumerConfig>,
): Promise<number | undefined> {
  let source
  try {
    source = await jsm.consumers.info(stream, from)
  } catch (error) {
    if (isNotFound(error, JetStreamApiCodes.ConsumerNotFound)) return undefined
    throw error
  }
  const delivered = filtersOf(source.config)
  const wanted = filtersOf(config)
  const takesOver =
    delivered.length === 0 ||
    wanted.length === 0 ||
    wanted.some((w) => delivered.some((d) => filtersOverlap(w, d)))
  return takesOver ? source.ack_floor.stream_seq + 1 : undefined
}

/** A consumer's subject filters, whichever key holds them; empty means every subject of the stream. */
export function filtersOf(config: Partial<ConsumerConfig>): string[] {
  return [config.filter_subject ?? '', ...(config.filter_subjects ?? [])].filter((s) => s !== '')
}

/**
 * The saga's streams; resolves with ORDERS' configuration as it stands. One
 * made by a release that kept the order deadlines in it still allows message
 * schedules, and with them roll-up headers: nats-server never turns schedules
 * off on an existing stream (the provision step says so; docs/security.md,
 * "ORDERS from an earlier release").
 */
export async function ensureStreams(jsm: JetStreamManager, limits: TopologyLimits): Promise<StreamConfig> {
  const allowShrink = limits.allowShrink === true
  const [orders, ...others] = sagaStreamChecks(limits)
  if (orders === undefined) throw new Error('sagaStreamChecks lists ORDERS first')
  const made = await ensureStream(jsm, orders.config, { ...orders, allowShrink })
  for (const check of others) await ensureStream(jsm, check.config, { ...check, allowShrink })
  return made.config
}

export type BucketName = (typeof BUCKETS)[keyof typeof BUCKETS]

export interface BucketSpec {
  /** How long a key lives; 0 = forever. */
  ttlMs: number
  history: number
  /**
   * Roll-up headers allowed: only a bucket whose keys are purged (`kv.purge`
   * sends `Nats-Rollup: sub`). Elsewhere they stay off, so no identity that
   * writes a bucket can erase all of it with one `Nats-Rollup: all` message.
   */
  rollup?: true
  /**
   * Per-message TTLs allowed (`allow_msg_ttl`, nats-server 2.11+; never
   * turned off again): a bucket whose purged keys are never written again
   * gives its purge markers a TTL, so they do not pile up.
   */
  msgTtl?: true
}

/** Each bucket's TTL and history (a function, for the Worker's bundle: see bucketSizeSetting). */
function bucketSpec(name: BucketName): BucketSpec {
  const specs: Record<BucketName, BucketSpec> = {
    [BUCKETS.orderStatus]: { ttlMs: 30 * DAY_MS, history: 1 },
    // Idempotency keys must answer for at least 24 h; a little more covers clock skew.
    [BUCKETS.idempotency]: { ttlMs: 25 * HOUR_MS, history: 1 },
    [BUCKETS.stock]: { ttlMs: 0, history: 1 },
    [BUCKETS.reservations]: { ttlMs: 30 * DAY_MS, history: 1 },
    // Outlives the order's status record (30 days): a cancel the intake lets through always finds who settled the order.
    [BUCKETS.decisions]: { ttlMs: 35 * DAY_MS, history: 1 },
    // An entry is removed when settled; the TTL only bounds a forgotten one.
    [BUCKETS.reconciliation]: { ttlMs: 30 * DAY_MS, history: 1 },
    // A fact older than this is not needed: the saga settles an order within ORDER_DEADLINE_MS.
    [BUCKETS.analyticsOrders]: { ttlMs: 30 * DAY_MS, history: 1 },
    // Windows are the history itself, and the active-generation pointer lives here: no TTL.
    // Its replaced generations' windows are purged key by key: roll-up headers on, and
    // the markers expire (a generation's keys are never written again).
    [BUCKETS.analyticsWindows]: { ttlMs: 0, history: 1, rollup: true, msgTtl: true },
  }
  return specs[name]
}

/**
 * Creates (or opens) a KV bucket with file storage and the configured
 * replicas; an existing bucket gets the configured size cap.
 */
export async function ensureBucket(
  nc: NatsConnection,
  name: BucketName,
  limits: TopologyLimits,
  /** Raise a sealed bucket's seal floor to its last record (RECORD_SEAL_FLOOR=now). */
  { raiseSealFloor = false }: { raiseSealFloor?: boolean } = {},
): Promise<KV> {
  const spec = bucketSpec(name)
  const maxBytes = limits.bucketMaxBytes[name]
  const kvm = new Kvm(nc)
  const jsm = await jetstreamManager(nc, { checkAPI: false })
  const stream = `KV_${name}`
  let existing: StreamConfig
  let lastSeq: number
  let state: { bytes: number; messages: number; first_ts: string }
  try {
    const info = await jsm.streams.info(stream)
    existing = info.config
    lastSeq = info.state.last_seq
    state = info.state
  } catch (error) {
    if (!isNotFound(error, JetStreamApiCodes.StreamNotFound)) throw error
    return await refusedAs(`bucket ${name}`, () => createBucket(kvm, jsm, name, limits))
  }
  // An existing bucket keeps its configuration, but for the size cap, the
  // replicas raised (never lowered, as for streams) and roll-up headers.
  if (limits.replicas < existing.num_replicas) {
    throw new ReplicasLoweredError(
      `bucket ${name} has ${existing.num_replicas} replicas; NATS_REPLICAS=${limits.replicas} would lower them ` +
        `(set NATS_REPLICAS=${existing.num_replicas}, or lower them deliberately with the nats CLI)`,
    )
  }
  if (limits.allowShrink !== true && existing.max_bytes !== maxBytes)
    refuseShrink(shrinkProblems(`bucket ${name}`, state, { maxBytes, sizeSetting: bucketSizeSetting(name) }))
  const rollup = spec.rollup === true
  // Turned on for a bucket made before it (nats-server refuses to turn it off).
  const msgTtlOn = spec.msgTtl === true && existing.allow_msg_ttl !== true
  // A sealed bucket first provisioned by a release before seals: its records
  // so far were written unsealed, and are read as they are (record-seal.ts).
  const floorUnset =
    SEALED_BUCKETS.includes(name) &&
    (existing.metadata?.[SEAL_FLOOR_METADATA] === undefined ||
      (raiseSealFloor && existing.metadata[SEAL_FLOOR_METADATA] !== String(lastSeq)))
  if (
    existing.max_bytes !== maxBytes ||
    existing.num_replicas !== limits.replicas ||
    existing.allow_rollup_hdrs !== rollup ||
    msgTtlOn ||
    floorUnset
  ) {
    await refusedAs(`bucket ${name}`, () =>
      jsm.streams.update(stream, {
        ...existing,
        max_bytes: maxBytes,
        num_replicas: limits.replicas,
        allow_rollup_hdrs: rollup,
        ...(msgTtlOn ? { allow_msg_ttl: true } : {}),
        ...(floorUnset ? { metadata: withSealFloor(existing.metadata, lastSeq) } : {}),
      }),
    )
  }
  return await kvm.open(name, { allow_direct: false }) // leader reads, as above
}

/** A bucket made new: nats.js's defaults, then roll-up headers and the seal floor as this release keeps them. */
async function createBucket(
  kvm: Kvm,
  jsm: JetStreamManager,
  name: BucketName,
  limits: TopologyLimits,
): Promise<KV> {
  const spec = bucketSpec(name)
  const stream = `KV_${name}`
  const kv = await kvm.create(name, {
    storage: StorageType.File,
    replicas: limits.replicas,
    history: spec.history,
    max_bytes: limits.bucketMaxBytes[name],
    maxValueSize: 1 * MiB,
    // Reads go to the stream leader. With direct gets any replica may answer,
    // and a replica that lags (right after a leader change) serves an old
    // record: a decision read ("is this order reserved?") must see the latest.
    allow_direct: false,
    ...(spec.ttlMs > 0 ? { ttl: spec.ttlMs } : {}),
  })
  // nats.js makes every bucket with roll-up headers allowed. A sealed
  // bucket made now has no record from before seals: floor 0.
  const made = (await jsm.streams.info(stream)).config
  const rollupOff = spec.rollup !== true && made.allow_rollup_hdrs
  const msgTtlOn = spec.msgTtl === true && made.allow_msg_ttl !== true
  if (rollupOff || msgTtlOn || SEALED_BUCKETS.includes(name)) {
    await jsm.streams.update(stream, {
      ...made,
      ...(rollupOff ? { allow_rollup_hdrs: false } : {}),
      ...(msgTtlOn ? { allow_msg_ttl: true } : {}),
      ...(SEALED_BUCKETS.includes(name) ? { metadata: withSealFloor(made.metadata, 0) } : {}),
    })
  }
  return kv
}
