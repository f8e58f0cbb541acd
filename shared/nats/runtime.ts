import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream'
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { backOff } from 'exponential-backoff'
import { STREAMS } from '../../schemas/subjects.ts'
import { toTopologyLimits, type NatsSettingsConfig } from '../config/nats-settings.ts'
import type { Logger } from '../observability/logger.ts'
import type { Metrics } from '../observability/metrics.ts'
import type { Gate } from '../resilience/gate.ts'
import { connectNats, type ConnectFn, type NatsHandle } from './connect.ts'
import { startConsumer, type Handlers, type RunningConsumer } from './consumer.ts'
import { startDeadLetterCapture } from './dead-letter-capture.ts'
import { isClusterForming, isNatsUnavailable } from './errors.ts'
import { createNatsReadiness } from './readiness.ts'
import { checkNatsServerVersion } from './server-version.ts'
import {
  durableConsumerConfig,
  ensureBucket,
  ensureConsumer,
  ensureStreams,
  type BucketName,
  type TopologyLimits,
} from './topology.ts'

/** What every worker holds once connected: clients, limits, readiness. */
export interface NatsRuntime {
  nats: NatsHandle
  nc: NatsConnection
  js: JetStreamClient
  jsm: JetStreamManager
  limits: TopologyLimits
  readiness: ReturnType<typeof createNatsReadiness>
  config: NatsSettingsConfig
  logger: Logger
  metrics: Metrics
}

/**
 * Connects (with backoff), refuses a server older than MIN_NATS_SERVER_VERSION
 * (NatsServerTooOldError, connection closed), provisions the streams
 * idempotently and builds readiness.
 */
export async function startNatsRuntime(
  name: string,
  config: NatsSettingsConfig,
  { connect, logger, metrics }: { connect: ConnectFn; logger: Logger; metrics: Metrics },
): Promise<NatsRuntime> {
  const nats = await connectNats({
    connect,
    servers: config.NATS_URL,
    name,
    logger,
    maxWaitMs: config.NATS_CONNECT_TIMEOUT_MS,
  })
  const { nc } = nats
  try {
    // The INFO of the server this connection landed on; a cluster runs one version.
    checkNatsServerVersion(nc.info, nc.getServer())
  } catch (error) {
    await nc.close()
    throw error
  }
  const timeout = config.NATS_REQUEST_TIMEOUT_MS
  const limits = toTopologyLimits(config)
  const jsm = await jetstreamManager(nc, { timeout })
  // A fresh cluster may still be electing its meta leader: retry provisioning
  // within the same deadline as the first connection.
  await retryWhileUnavailable(() => ensureStreams(jsm, limits), config.NATS_CONNECT_TIMEOUT_MS, logger)
  const js = jetstream(nc, { timeout })
  const readiness = createNatsReadiness({
    nats,
    jsm,
    streams: [STREAMS.orders.name, STREAMS.deadLetters.name],
  })
  return { nats, nc, js, jsm, limits, readiness, config, logger, metrics }
}

/** Retries `work` with exponential backoff and jitter while NATS is unavailable or the cluster is still forming, up to `maxWaitMs`. */
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
      const again = (isNatsUnavailable(error) || isClusterForming(error)) && Date.now() < deadline
      if (again) logger.warn({ err: error, attempt }, 'JetStream not answering yet; retrying')
      return again
    },
  })
}

/** Creates (or opens) a KV bucket, retrying while JetStream is not answering yet. */
export function openBucket(rt: NatsRuntime, name: BucketName): Promise<KV> {
  return retryWhileUnavailable(
    () => ensureBucket(rt.nc, name, rt.limits),
    rt.config.NATS_CONNECT_TIMEOUT_MS,
    rt.logger,
  )
}

/** Provisions a durable consumer on the saga stream and starts the shared message loop on it. */
export async function startDurableConsumer(
  rt: NatsRuntime,
  {
    durable,
    filterSubjects,
    handlers,
    gate,
    splitFrom,
  }: {
    durable: string
    filterSubjects: readonly string[]
    handlers: Handlers
    gate?: Gate
    /** See `EnsureConsumerOptions.splitFrom`. */
    splitFrom?: string
  },
): Promise<RunningConsumer> {
  const provisionConsumer = () =>
    ensureConsumer(
      rt.jsm,
      STREAMS.orders.name,
      durableConsumerConfig(durable, filterSubjects, rt.limits),
      splitFrom === undefined ? {} : { splitFrom },
    )
  // startNatsRuntime provisioned the streams; recovering a lost consumer may
  // also find them gone (a server without its store), so it ensures both.
  const reprovision = async () => {
    await ensureStreams(rt.jsm, rt.limits)
    await provisionConsumer()
  }
  await retryWhileUnavailable(provisionConsumer, rt.config.NATS_CONNECT_TIMEOUT_MS, rt.logger)
  // Dead-letters what the loop never saw fail: a last delivery whose ack wait
  // ran out (crash, hang) or that was nak'd, and terms from elsewhere.
  const capture = await startDeadLetterCapture({
    js: rt.js,
    jsm: rt.jsm,
    logger: rt.logger,
    metrics: rt.metrics,
    stream: STREAMS.orders.name,
    durable,
    limits: rt.limits,
    publishTimeoutMs: rt.config.NATS_REQUEST_TIMEOUT_MS,
  })
  let consumer: RunningConsumer
  try {
    consumer = await startLoop()
  } catch (error) {
    await capture.stop()
    throw error
  }
  return {
    inFlight: () => consumer.inFlight(),
    done: Promise.all([consumer.done, capture.done]).then(() => undefined),
    async stop() {
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
      stream: STREAMS.orders.name,
      durable,
      handlers,
      concurrency: rt.config.CONSUMER_CONCURRENCY,
      maxDeliver: rt.limits.maxDeliver,
      ackWaitMs: rt.limits.ackWaitMs,
      publishTimeoutMs: rt.config.NATS_REQUEST_TIMEOUT_MS,
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
      if (!rt.nc.isClosed()) await rt.nc.drain()
    },
  }
}
