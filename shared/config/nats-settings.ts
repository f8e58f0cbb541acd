import * as v from 'valibot'
import { DEFAULT_LIMITS, type TopologyLimits } from '../nats/topology.ts'
import { BUCKETS } from '../../schemas/subjects.ts'
import { ConfigError, intFromEnv, natsUrlsFromEnv } from './load-config.ts'
import { parseRecordKeys } from '../security/record-seal.ts'

const MiB = 1024 * 1024

/** A user NKEY seed (SU...), optional. */
export const nkeySeedFromEnv = v.optional(
  v.pipe(
    v.string(),
    v.regex(/^SU[A-Z2-7]{56}$/, 'must be a user NKEY seed (SU followed by 56 base32 characters)'),
  ),
)

/**
 * RECORD_KEYS: the keys of the sealed buckets a service reads or writes
 * (`<bucket>:<base64url key>`, comma separated); or RECORD_KEYS_FILE.
 * Unset: records are neither sealed nor checked (docs/security.md).
 */
export const recordKeysFromEnv = v.optional(
  v.pipe(
    v.string(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        return parseRecordKeys(dataset.value)
      } catch (error) {
        for (const message of error instanceof ConfigError ? error.problems : ['RECORD_KEYS: unreadable'])
          addIssue({ message: message.replace(/^RECORD_KEYS: /, '') })
        return NEVER
      }
    }),
  ),
)

/**
 * RECORD_SEALS: `enforce`, a sealed bucket's record without a valid seal is
 * refused; `tolerate`, one with no seal at all is read (during the rolling
 * upgrade from a release before seals; docs/security.md).
 */
export const recordSealsFromEnv = v.optional(
  v.picklist(['enforce', 'tolerate'], 'must be enforce or tolerate'),
  'enforce',
)

/** LANE_SIGNAL_HOLD_MS: how long an express order's signal holds standard work (docs/priority.md). */
export const laneSignalHoldMsFromEnv = intFromEnv(500, 0, 10_000)

/**
 * What the stream limits must leave room for: an order's events and its
 * deadline schedule live in streams kept STREAM_MAX_AGE_MS, so that must
 * outlast ORDER_DEADLINE_MS (or the deadline goes before it fires, and an
 * order can stay reserved for good); and the duplicate window fits in it.
 */
export function retentionProblems(config: {
  STREAM_MAX_AGE_MS: number
  STREAM_DUPLICATE_WINDOW_MS: number
  ORDER_DEADLINE_MS: number
  CONSUMER_ACK_WAIT_MS: number
}): string[] {
  const problems: string[] = []
  if (config.STREAM_MAX_AGE_MS <= config.ORDER_DEADLINE_MS)
    problems.push(
      `STREAM_MAX_AGE_MS (${config.STREAM_MAX_AGE_MS}) must be longer than ORDER_DEADLINE_MS (${config.ORDER_DEADLINE_MS}): ` +
        "an order's events and its deadline would expire before the deadline fires",
    )
  if (config.STREAM_DUPLICATE_WINDOW_MS > config.STREAM_MAX_AGE_MS)
    problems.push(
      `STREAM_DUPLICATE_WINDOW_MS (${config.STREAM_DUPLICATE_WINDOW_MS}) must not be longer than STREAM_MAX_AGE_MS (${config.STREAM_MAX_AGE_MS})`,
    )
  if (config.STREAM_DUPLICATE_WINDOW_MS < config.CONSUMER_ACK_WAIT_MS)
    problems.push(
      `STREAM_DUPLICATE_WINDOW_MS (${config.STREAM_DUPLICATE_WINDOW_MS}) must be at least CONSUMER_ACK_WAIT_MS (${config.CONSUMER_ACK_WAIT_MS}): ` +
        'an event published again by a delivery redelivered after the ack wait must still be recognised as a duplicate',
    )
  return problems
}

/** ORDER_DEADLINE_MS: every order is settled within this of its creation, or cancelled `deadline_exceeded`. */
export const orderDeadlineMsFromEnv = intFromEnv(600_000, 1_000, 30 * 86_400_000)

/** NATS settings every service shares; spread into each service's config schema. */
export const natsSettings = {
  NATS_URL: natsUrlsFromEnv,
  /** This service's NATS identity: a user NKEY seed (SU...); or NATS_NKEY_SEED_FILE. Unset = anonymous (refused by a server with authentication). */
  NATS_NKEY_SEED: nkeySeedFromEnv,
  /**
   * The keys of the sealed buckets this service reads or writes
   * (`<bucket>:<base64url key>`, comma separated); or RECORD_KEYS_FILE.
   * Unset: records are neither sealed nor checked (docs/security.md).
   */
  RECORD_KEYS: recordKeysFromEnv,
  RECORD_SEALS: recordSealsFromEnv,
  /** A CA certificate file (PEM): connect with TLS and trust servers signed by it. */
  NATS_TLS_CA_FILE: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** Give up the first connection after this long (the client reconnects forever afterwards). */
  NATS_CONNECT_TIMEOUT_MS: intFromEnv(300_000, 0, 24 * 3_600_000),
  /** The longest wait between two reconnect attempts during an outage (1 s at first, then a quarter of the outage: reconnectWaitMs). */
  NATS_RECONNECT_MAX_MS: intFromEnv(5_000, 1_000, 300_000),
  /** Deadline for one JetStream publish or KV operation. */
  NATS_REQUEST_TIMEOUT_MS: intFromEnv(2_000, 100, 60_000),
  NATS_REPLICAS: v.optional(
    v.pipe(v.picklist(['1', '3', '5'], 'must be 1, 3 or 5'), v.transform(Number)),
    '1',
  ),
  STREAM_DUPLICATE_WINDOW_MS: intFromEnv(DEFAULT_LIMITS.duplicateWindowMs, 1_000, 7 * 86_400_000),
  STREAM_MAX_AGE_MS: intFromEnv(DEFAULT_LIMITS.streamMaxAgeMs, 60_000, 3650 * 86_400_000),
  STREAM_MAX_BYTES: intFromEnv(DEFAULT_LIMITS.streamMaxBytes, 1_048_576, Number.MAX_SAFE_INTEGER),
  CONSUMER_ACK_WAIT_MS: intFromEnv(DEFAULT_LIMITS.ackWaitMs, 1_000, 3_600_000),
  CONSUMER_MAX_DELIVER: intFromEnv(DEFAULT_LIMITS.maxDeliver, 1, 100),
  CONSUMER_MAX_ACK_PENDING: intFromEnv(DEFAULT_LIMITS.maxAckPending, 1, 100_000),
  /**
   * Messages handled at once per consumer. 64: less CPU per order than 32 and
   * a standard lane that keeps its pace beside express orders
   * (docs/performance.md, docs/priority.md).
   */
  CONSUMER_CONCURRENCY: intFromEnv(64, 1, 1_000),
  /** Size caps of the KV buckets (bytes). */
  KV_ORDER_STATUS_MAX_BYTES: intFromEnv(
    DEFAULT_LIMITS.bucketMaxBytes[BUCKETS.orderStatus],
    MiB,
    Number.MAX_SAFE_INTEGER,
  ),
  KV_IDEMPOTENCY_MAX_BYTES: intFromEnv(
    DEFAULT_LIMITS.bucketMaxBytes[BUCKETS.idempotency],
    MiB,
    Number.MAX_SAFE_INTEGER,
  ),
  KV_STOCK_MAX_BYTES: intFromEnv(DEFAULT_LIMITS.bucketMaxBytes[BUCKETS.stock], MiB, Number.MAX_SAFE_INTEGER),
  KV_RESERVATIONS_MAX_BYTES: intFromEnv(
    DEFAULT_LIMITS.bucketMaxBytes[BUCKETS.reservations],
    MiB,
    Number.MAX_SAFE_INTEGER,
  ),
  KV_DECISIONS_MAX_BYTES: intFromEnv(
    DEFAULT_LIMITS.bucketMaxBytes[BUCKETS.decisions],
    MiB,
    Number.MAX_SAFE_INTEGER,
  ),
  KV_RECONCILIATION_MAX_BYTES: intFromEnv(
    DEFAULT_LIMITS.bucketMaxBytes[BUCKETS.reconciliation],
    MiB,
    Number.MAX_SAFE_INTEGER,
  ),
  KV_ANALYTICS_ORDERS_MAX_BYTES: intFromEnv(
    DEFAULT_LIMITS.bucketMaxBytes[BUCKETS.analyticsOrders],
    MiB,
    Number.MAX_SAFE_INTEGER,
  ),
  KV_ANALYTICS_WINDOWS_MAX_BYTES: intFromEnv(
    DEFAULT_LIMITS.bucketMaxBytes[BUCKETS.analyticsWindows],
    MiB,
    Number.MAX_SAFE_INTEGER,
  ),
  /** How long a message is held and retried while NATS is unavailable (election, disconnect) before it counts as a failed delivery. */
  CONSUMER_UNAVAILABLE_RETRY_MS: intFromEnv(60_000, 0, 3_600_000),
  /**
   * How long standard work waits, at each of its yield points (before its
   * handler, before each request through the stores and publishers), while
   * express messages are in flight in the same process (0: never waits).
   */
  LANE_YIELD_MAX_MS: intFromEnv(100, 0, 10_000),
  /**
   * How long an express order under way anywhere holds this process's
   * standard work at most, when its settled signal does not come first
   * (lane-signals.ts; 0: express orders are not announced, and standard work
   * yields only to express messages in its own process).
   */
  LANE_SIGNAL_HOLD_MS: laneSignalHoldMsFromEnv,
  /**
   * Whether the order, inventory and payment services take the console's
   * dead-letter replays of their events (replay-delegate.ts): `off` for an
   * identity without that right (the edge's, `order-edge`), which would
   * otherwise be refused the subscription at every start.
   */
  DEAD_LETTER_REPLAYS: v.optional(v.picklist(['on', 'off'], 'must be on or off'), 'on'),
  /**
   * The lanes whose consumers this process runs: `both`, or `standard` /
   * `express` to run each lane in processes of its own (docs/priority.md).
   */
  CONSUMER_LANES: v.optional(
    v.picklist(['both', 'standard', 'express'], 'must be both, standard or express'),
    'both',
  ),
  /** Upper bound on a graceful stop (SIGTERM/SIGINT): in-flight messages finish, the connection drains. */
  SHUTDOWN_TIMEOUT_MS: intFromEnv(10_000, 100, 600_000),
} as const

export type NatsSettingsConfig = v.InferOutput<v.ObjectSchema<typeof natsSettings, undefined>>

export function toTopologyLimits(config: NatsSettingsConfig): TopologyLimits {
  return {
    ...DEFAULT_LIMITS,
    replicas: config.NATS_REPLICAS,
    duplicateWindowMs: config.STREAM_DUPLICATE_WINDOW_MS,
    streamMaxAgeMs: config.STREAM_MAX_AGE_MS,
    streamMaxBytes: config.STREAM_MAX_BYTES,
    ackWaitMs: config.CONSUMER_ACK_WAIT_MS,
    maxDeliver: config.CONSUMER_MAX_DELIVER,
    maxAckPending: config.CONSUMER_MAX_ACK_PENDING,
    bucketMaxBytes: {
      [BUCKETS.orderStatus]: config.KV_ORDER_STATUS_MAX_BYTES,
      [BUCKETS.idempotency]: config.KV_IDEMPOTENCY_MAX_BYTES,
      [BUCKETS.stock]: config.KV_STOCK_MAX_BYTES,
      [BUCKETS.reservations]: config.KV_RESERVATIONS_MAX_BYTES,
      [BUCKETS.decisions]: config.KV_DECISIONS_MAX_BYTES,
      [BUCKETS.reconciliation]: config.KV_RECONCILIATION_MAX_BYTES,
      [BUCKETS.analyticsOrders]: config.KV_ANALYTICS_ORDERS_MAX_BYTES,
      [BUCKETS.analyticsWindows]: config.KV_ANALYTICS_WINDOWS_MAX_BYTES,
    },
  }
}
