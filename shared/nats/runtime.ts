import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { backOff } from 'exponential-backoff'
import { STREAMS } from '../../schemas/subjects.ts'
import { toTopologyLimits, type NatsSettingsConfig } from '../config/nats-settings.ts'
import type { Logger } from '../observability/logger.ts'
import type { Metrics } from '../observability/metrics.ts'
import { createPropagatingTracer, type Tracer } from '../observability/tracing.ts'
import type { Gate } from '../resilience/gate.ts'
import { toEventSource } from './cloudevents.ts'
import { connectNats, type ConnectFn, type NatsHandle } from './connect.ts'
import { startConsumer, type Handlers, type RunningConsumer } from './consumer.ts'
import { startDeadLetterCapture } from './dead-letter-capture.ts'
import { isClusterForming, isNatsUnavailable } from './errors.ts'
import pkg from '../../package.json' with { type: 'json' }
import { watchConsumerConfig } from './consumer-config-watch.ts'
import { startDiscovery, type Discovery } from './discovery.ts'
import { REPLAYERS, serveReplays, type ReplayResponder } from './replay-delegate.ts'
import { identityKey } from './identity-key.ts'
import { createLanePriority, type LanePriority } from './lane-priority.ts'
import { createLaneSignals, type LaneSignals } from './lane-signals.ts'
import { createNatsGauges, type NatsGauges } from './nats-gauges.ts'
import { createNatsReadiness } from './readiness.ts'
import { checkJetStreamEnabled, checkNatsServerVersion } from './server-version.ts'
import {
  consumerLane,
  ensureSagaConsumer,
  SAGA_CONSUMERS,
  streamOf,
  type SagaConsumer,
  type SagaConsumerName,
} from './saga-consumers.ts'
import {
  bindBucket,
  NotProvisionedError,
  requireStreams,
  type BucketName,
  type TopologyLimits,
} from './topology.ts'
import { natsClientOptions } from '../security/nats-client-options.ts'
import { RECORD_SEAL_HEADER, sealBucket, SEALED_BUCKETS, sealFloorOf } from '../security/record-seal.ts'
import { KvRecordError } from './kv-json.ts'
import { ConfigError } from '../config/load-config.ts'

/** What every worker holds once connected: clients, limits, readiness. */
export interface NatsRuntime {
  /** The service's name: its NATS client name and its events' CloudEvents source. */
  name: string
  nats: NatsHandle
  nc: NatsConnection
  js: JetStreamClient
  jsm: JetStreamManager
  limits: TopologyLimits
  readiness: ReturnType<typeof createNatsReadiness>
  config: NatsSettingsConfig
  logger: Logger
  metrics: Metrics
  /** Spans per consumed message; propagation only unless tracing is on. */
  tracer: Tracer
  /** Consumer backlog and dead letters read from JetStream at each scrape. */
  gauges: NatsGauges
  /** Express before standard among this process's consumers (lane-priority.ts). */
  lanes: LanePriority
  /** Express orders under way, announced to and held for by every worker (lane-signals.ts). */
  laneSignals: LaneSignals
  /** The NATS services protocol ($SRV.PING/INFO/STATS): `nats micro ls` lists this instance. */
  discovery: Discovery
  /**
   * A secret of this identity's own (from its NKEY seed; none without one):
   * its dead-letter ids, and the fresh id of an event whose id another
   * message held, are made with it, so no other identity can take them first.
   */
  idKey?: Uint8Array
  /** Dead-letter replays asked by the console, for order, inventory and payment (replay-delegate.ts). */
  replays?: ReplayResponder
}

/**
 * Connects (with backoff), refuses a server older than MIN_NATS_SERVER_VERSION
 * (NatsServerTooOldError, connection closed), provisions the streams
 * idempotently and builds readiness.
 */
export async function startNatsRuntime(
  name: string,
  config: NatsSettingsConfig,
  {
    connect,
    logger,
    metrics,
    tracer = createPropagatingTracer(),
  }: { connect: ConnectFn; logger: Logger; metrics: Metrics; tracer?: Tracer | undefined },
): Promise<NatsRuntime> {
  const nats = await connectNats({
    connect,
    servers: config.NATS_URL,
    name,
    logger,
    maxWaitMs: config.NATS_CONNECT_TIMEOUT_MS,
    reconnectMaxDelayMs: config.NATS_RECONNECT_MAX_MS,
    options: natsClientOptions(config),
  })
  const { nc } = nats
  try {
    // The INFO of the server this connection landed on; a cluster runs one version.
    checkNatsServerVersion(nc.info, nc.getServer())
    await checkJetStreamEnabled(nc, config.NATS_REQUEST_TIMEOUT_MS)
  } catch (error) {
    await nc.close()
    throw error
  }
  const timeout = config.NATS_REQUEST_TIMEOUT_MS
  const limits = toTopologyLimits(config)
  const jsm = await jetstreamManager(nc, { timeout })
  // The admin's provision step creates the streams; a fresh cluster may still
  // be electing its meta leader. Wait for both within the connect deadline.
  await retryWhileUnavailable(() => requireStreams(jsm, SAGA_STREAMS), config.NATS_CONNECT_TIMEOUT_MS, logger)
  const js = jetstream(nc, { timeout })
  const readiness = createNatsReadiness({
    nats,
    jsm,
    streams: SAGA_STREAMS,
  })
  // Half the request timeout: `/metrics` answers (without these series) before
  // a reader bounded by the same timeout, the console, gives up on it.
  const gauges = createNatsGauges({
    jsm,
    registry: metrics.registry,
    logger,
    timeoutMs: Math.max(100, Math.floor(timeout / 2)),
  })
  const discovery = await startDiscovery({
    nc,
    name,
    version: pkg.version,
    description: `order saga: ${name}`,
    consumers: () => gauges.tracked(),
    readiness: readiness.check,
    logger,
  })
  const lanes = createLanePriority({ maxHoldMs: config.LANE_YIELD_MAX_MS })
  const laneSignals = createLaneSignals({ nc, holdMs: config.LANE_SIGNAL_HOLD_MS, logger })
  // The console asks the owner of an event to replay it (replay-delegate.ts).
  const replayer = config.DEAD_LETTER_REPLAYS === 'off' ? undefined : REPLAYERS.find((r) => r === name)
  const replays =
    replayer === undefined
      ? undefined
      : serveReplays({ nc, js, jsm, service: replayer, logger, timeoutMs: timeout })
  return {
    name,
    nats,
    nc,
    js,
    jsm,
    limits,
    readiness,
    config,
    logger,
    metrics,
    tracer,
    gauges,
    lanes,
    laneSignals,
    discovery,
    ...(replays === undefined ? {} : { replays }),
    ...withIdKey(identityKey(config.NATS_NKEY_SEED)),
  }
}

const withIdKey = (key: Uint8Array | undefined) => (key === undefined ? {} : { idKey: key })

const SAGA_STREAMS = [STREAMS.orders.name, STREAMS.deadLetters.name, STREAMS.deadlines.name]

/**
 * Retries `work` with exponential backoff and jitter while NATS is unavailable,
 * the cluster is still forming or the provision step has not run yet, up to
 * `maxWaitMs`.
 */
export async function retryWhileUnavailable<T>(
  work: () => Promise<T>,
  maxWaitMs: number,
  logger: Logger,
): Promise<T> {
  const deadline = Date.now() + maxWaitMs
  return await backOff(work, {
    startingDelay: 250,
    maxDelay: 5_000,
    jitter: 'full',
    numOfAttempts: Number.MAX_SAFE_INTEGER,
    retry: (error: unknown, attempt: number) => {
      const waiting = error instanceof NotProvisionedError
      const again = (waiting || isNatsUnavailable(error) || isClusterForming(error)) && Date.now() < deadline
      if (again && waiting) logger.warn({ attempt, reason: error.message }, 'waiting for the provision step')
      // The stack once; the later attempts' lines name the reason only.
      else if (again && attempt <= 1)
        logger.warn({ err: error, attempt }, 'JetStream not answering yet; retrying')
      else if (again)
        logger.warn(
          { attempt, reason: error instanceof Error ? error.message : String(error) },
          'JetStream not answering yet; retrying',
        )
      return again
    },
  })
}

/**
 * Binds a provisioned KV bucket, waiting while JetStream is not answering or
 * the bucket not provisioned yet. A sealed bucket (record-seal.ts) is sealed
 * with its key from RECORD_KEYS; a service given RECORD_KEYS without the key
 * of a sealed bucket it uses does not start. `showOnly`: read without a key
 * (the console shows records and decides nothing on them).
 */
export async function openBucket(
  rt: NatsRuntime,
  name: BucketName,
  { showOnly = false }: { showOnly?: boolean } = {},
): Promise<KV> {
  const keys = rt.config.RECORD_KEYS
  const sealed = SEALED_BUCKETS.includes(name) && !showOnly
  const key = sealed ? keys?.get(name) : undefined
  if (sealed && keys !== undefined && key === undefined) {
    throw new ConfigError([
      `RECORD_KEYS has no key for the bucket ${name}, which this service reads or writes`,
    ])
  }
  const kv = await retryWhileUnavailable(
    () => bindBucket(rt.nc, name, rt.config.NATS_REQUEST_TIMEOUT_MS),
    rt.config.NATS_CONNECT_TIMEOUT_MS,
    rt.logger,
  )
  rt.readiness.watch(`KV_${name}`)
  if (key !== undefined && rt.config.RECORD_SEALS === 'tolerate')
    rt.logger.warn(
      { bucket: name },
      'RECORD_SEALS=tolerate: records without a seal are read (a rolling upgrade)',
    )
  if (key === undefined) {
    if (sealed && rt.config.NATS_NKEY_SEED !== undefined)
      rt.logger.warn(
        { bucket: name },
        'RECORD_KEYS unset: records of this bucket are neither sealed nor checked',
      )
    return kv
  }
  const { floor, lastSeq } = await retryWhileUnavailable(
    async () => {
      const info = await rt.jsm.streams.info(`KV_${name}`)
      return { floor: sealFloorOf(info.config.metadata), lastSeq: info.state.last_seq }
    },
    rt.config.NATS_CONNECT_TIMEOUT_MS,
    rt.logger,
  )
  const checked = sealBucket(kv, {
    bucket: name,
    key,
    floor,
    tolerateUnsealed: rt.config.RECORD_SEALS === 'tolerate',
  })
  await checkNewestRecord(rt, name, checked, lastSeq)
  return checked
}

/**
 * Reads the bucket's newest record once, as every read will: a key that does
 * not open it is said at start, naming RECORD_KEYS, rather than as each
 * request's 500 later. Said, not fatal: any identity can have nats-server
 * store an unsealed answer on a record's subject ([security.md](../../docs/security.md)),
 * and a service that refused to start on one would stay down. A bucket that
 * cannot be read here (empty, no right to, NATS busy) is left to the reads.
 */
async function checkNewestRecord(rt: NatsRuntime, bucket: string, kv: KV, lastSeq: number): Promise<void> {
  const prefix = `$KV.${bucket}.`
  let newest: { key: string; sealed: boolean }
  try {
    // The stream's last message is the bucket's newest record (a bucket's stream holds only records).
    const message = await rt.jsm.streams.getMessage(`KV_${bucket}`, { seq: lastSeq })
    if (message === null || !message.subject.startsWith(prefix)) return
    newest = {
      key: message.subject.slice(prefix.length),
      sealed: (message.header?.get(RECORD_SEAL_HEADER) ?? '') !== '',
    }
  } catch {
    // Empty, removed since, or NATS busy: the reads will say.
    return
  }
  try {
    await kv.get(newest.key)
  } catch (error) {
    if (!(error instanceof KvRecordError)) return
    // A seal that does not match is what a wrong key gives; anything else was written without the key.
    const wrongKey = newest.sealed && /did not seal/.test(error.message)
    rt.logger.error(
      { bucket, err: error },
      wrongKey
        ? `RECORD_KEYS: this service's key for ${bucket} does not open the bucket's newest record: every service that reads or writes ${bucket} needs the same key (docs/security.md, Record seals)`
        : `the newest record of ${bucket} was not written by a service holding the bucket's key (docs/security.md, Record seals)`,
    )
  }
}

/** Provisions a saga consumer on its stream (ORDERS, or DEADLINES for the relay) and starts the shared message loop on it. */
export async function startDurableConsumer(
  rt: NatsRuntime,
  {
    durable,
    handlers,
    gate,
  }: {
    /** A consumer of the saga table (its filters come from there). */
    durable: SagaConsumerName
    handlers: Handlers
    gate?: Gate
  },
): Promise<RunningConsumer> {
  const lane = consumerLane(durable)
  if (lane !== 'both' && rt.config.CONSUMER_LANES !== 'both' && rt.config.CONSUMER_LANES !== lane) {
    // Another process runs this lane (CONSUMER_LANES).
    rt.logger.info({ consumer: durable, lanes: rt.config.CONSUMER_LANES }, 'consumer left to the other lane')
    return { inFlight: () => 0, done: Promise.resolve(), stop: () => Promise.resolve() }
  }
  const provisionConsumer = () =>
    ensureSagaConsumer(rt.jsm, durable, rt.limits, pkg.version, { yieldToNewer: true })
  const spec: SagaConsumer = SAGA_CONSUMERS[durable]
  const stream = streamOf(durable)
  // The provision step created the consumer; a lost one is re-created with
  // the same configuration (this identity may do that for its own consumers).
  // Streams lost with a server's store come back only with the provision step.
  const reprovision = async () => {
    await requireStreams(rt.jsm, SAGA_STREAMS)
    await provisionConsumer()
  }
  await retryWhileUnavailable(provisionConsumer, rt.config.NATS_CONNECT_TIMEOUT_MS, rt.logger)
  rt.gauges.track(durable, stream)
  // A process with a lane's consumers holds its standard work for express orders under way anywhere.
  if (lane !== 'both') rt.laneSignals.listen(rt.lanes)
  // Dead-letters what the loop never saw fail: a last delivery whose ack wait
  // ran out (crash, hang) or that was nak'd, and terms from elsewhere.
  const capture = await startDeadLetterCapture({
    js: rt.js,
    jsm: rt.jsm,
    logger: rt.logger,
    metrics: rt.metrics,
    stream,
    durable,
    publishTimeoutMs: rt.config.NATS_REQUEST_TIMEOUT_MS,
    ...(rt.idKey === undefined ? {} : { idKey: rt.idKey }),
  })
  let consumer: RunningConsumer
  try {
    consumer = await startLoop()
  } catch (error) {
    await capture.stop()
    throw error
  }
  // Filters another process changed (a worker of an earlier release) are put back.
  const watch = watchConsumerConfig({
    jsm: rt.jsm,
    stream,
    durable,
    filters: spec.filters,
    release: pkg.version,
    restore: provisionConsumer,
    logger: rt.logger,
  })
  // A loop that ended (stopped, or failed for good) needs its filters watched no more.
  const unwatch = () => watch.stop()
  void consumer.done.then(unwatch, unwatch)
  return {
    inFlight: () => consumer.inFlight(),
    done: Promise.all([consumer.done, capture.done]).then(() => undefined),
    async stop() {
      await watch.stop()
      await consumer.stop()
      await capture.stop()
    },
  }

  function startLoop(): Promise<RunningConsumer> {
    return startConsumer({
      ensureConsumer: reprovision,
      ...(gate ? { gate } : {}),
      js: rt.js,
      logger: rt.logger,
      metrics: rt.metrics,
      tracer: rt.tracer,
      lanes: rt.lanes,
      // A lane's consumers announce the express orders they start; a consumer
      // of both lanes (analytics, the deadline relay) is not on their path.
      ...(lane === 'both' ? {} : { laneSignals: rt.laneSignals }),
      stream,
      durable,
      handlers,
      ...(spec.subjectPrefix === undefined ? {} : { subjectPrefix: spec.subjectPrefix }),
      ...(spec.twinCopies === undefined ? {} : { twinCopies: spec.twinCopies }),
      concurrency: rt.config.CONSUMER_CONCURRENCY,
      maxDeliver: spec.maxDeliver === -1 ? Number.POSITIVE_INFINITY : rt.limits.maxDeliver,
      ackWaitMs: rt.limits.ackWaitMs,
      publishTimeoutMs: rt.config.NATS_REQUEST_TIMEOUT_MS,
      ...(rt.idKey === undefined ? {} : { idKey: rt.idKey }),
      source: toEventSource(rt.name),
      unavailableRetryMs: rt.config.CONSUMER_UNAVAILABLE_RETRY_MS,
    })
  }
}

/** How a worker stops: readiness off, consumers finish in-flight work, then the connection drains. */
export interface Stoppable {
  /** Readiness turns 503 at once. */
  markStopping: () => void
  /** Stop pulling; in-flight messages finish and are acked (or nak'd). */
  stopConsuming: () => Promise<void>
  /** Drain and close the NATS connection (after HTTP stopped). */
  close: () => Promise<void>
}

export function toStoppable(rt: NatsRuntime, consumers: readonly (RunningConsumer | undefined)[]): Stoppable {
  return {
    markStopping: rt.readiness.markStopping,
    stopConsuming: async () => {
      rt.readiness.markStopping()
      await Promise.all(consumers.flatMap((c) => (c ? [c.stop()] : [])))
    },
    close: async () => {
      rt.laneSignals.stop()
      await rt.replays?.stop()
      await rt.discovery.stop().catch(() => undefined)
      if (!rt.nc.isClosed()) await rt.nc.drain()
    },
  }
}
