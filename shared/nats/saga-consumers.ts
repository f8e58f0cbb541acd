/*
 * The saga's durable consumers (on ORDERS; the deadline relay on DEADLINES):
 * one table that the provision step, the workers (re-creating a lost
 * consumer) and the access table (shared/security/access.ts) all read.
 */
import type { ConsumerConfig, JetStreamManager } from '@nats-io/jetstream'
import {
  DEADLINE_FIRED_PREFIX,
  EXPRESS_SUFFIX,
  laneSubject,
  STREAMS,
  SUBJECTS,
  type Subject,
} from '../../schemas/subjects.ts'
import { RELEASE_METADATA_KEY, writtenByNewer } from './consumer-config-watch.ts'
import { captureConsumerConfig, ADVISORY_STREAM } from './dead-letter-capture.ts'
import { durableConsumerConfig, ensureConsumer, type TopologyLimits } from './topology.ts'

export interface SagaConsumer {
  /** The stream it reads; ORDERS unless given. */
  stream?: string
  /**
   * Stripped from a message's subject to find its event subject (the
   * inventory worker's deadline relay reads `deadlines.fired.<event subject>`).
   */
  subjectPrefix?: string
  /** Subject filters; none = every subject of the stream. */
  filters: readonly string[]
  /** See `EnsureConsumerOptions.splitFrom`. */
  splitFrom?: string
  /** Overrides CONSUMER_MAX_ACK_PENDING; 1 delivers one message at a time, in stream order. */
  maxAckPending?: number
  /** See `ConsumerOptions.twinCopies`: `skip` only for a consumer that alone reads every message. */
  twinCopies?: 'skip'
  /**
   * -1: a message is never dead-lettered for running out of deliveries; a
   * failing one is retried (with backoff) until it goes through, holding
   * everything behind it. Overrides CONSUMER_MAX_DELIVER.
   */
  maxDeliver?: -1
}

/**
 * The inventory worker reads orders and payment outcomes through two
 * consumers with one filter each. The server behaviour this covers:
 * nats-server 2.10.27 drained a consumer with several filters at ~600 msg/s
 * with a backlog. 2.15.1 drains the three-filter consumer at 31,000-41,000
 * msg/s and these two at 32,000-56,000 (bench/probes/consumer-filters.ts): no
 * longer needed against that, kept as no slower, and merging them back would
 * be another consumer migration (docs/nats-server.md).
 * `inventory-payments` was split off `inventory`, so it comes first: on an
 * upgrade it starts where `inventory` had got to, before `inventory` is
 * narrowed to orders.created.
 */
const express = (subject: Subject): string => laneSubject(subject, 'express')

export const SAGA_CONSUMERS = {
  // Every event of a standard order (the express lane has its own consumer).
  'order-status': {
    filters: [
      SUBJECTS.orderCreated,
      SUBJECTS.orderCancelled,
      SUBJECTS.orderCancelRequested,
      SUBJECTS.inventoryReserved,
      SUBJECTS.inventoryReleased,
      SUBJECTS.paymentCompleted,
      SUBJECTS.paymentFailed,
      SUBJECTS.paymentRefunded,
    ],
  },
  'inventory-payments': {
    filters: [SUBJECTS.paymentCompleted, SUBJECTS.paymentFailed, SUBJECTS.orderCancelled],
    splitFrom: 'inventory',
  },
  inventory: {
    filters: [SUBJECTS.orderCreated, SUBJECTS.orderCancelRequested],
  },
  payment: {
    filters: [SUBJECTS.inventoryReserved, SUBJECTS.orderCancelRequested],
  },
  // The express lane: the same work for express orders, with its own
  // concurrency, so a standard backlog never stands in front of it. An
  // express order's cancellation request (customer or deadline) is on
  // `orders.cancel_requested.express`; a plain one (a deadline scheduled
  // before the lanes covered cancellations) is still read by the standard
  // consumers above, whatever the order's priority.
  'order-status-express': { filters: [`*.*${EXPRESS_SUFFIX}`] },
  'inventory-payments-express': {
    filters: [SUBJECTS.paymentCompleted, SUBJECTS.paymentFailed, SUBJECTS.orderCancelled].map(express),
  },
  'inventory-express': { filters: [SUBJECTS.orderCreated, SUBJECTS.orderCancelRequested].map(express) },
  'payment-express': { filters: [SUBJECTS.inventoryReserved, SUBJECTS.orderCancelRequested].map(express) },
  // Both lanes in one consumer, one message at a time, in stream order: the
  // analytics worker's exactly-once record is the highest stream sequence
  // applied per window (docs/analytics.md).
  analytics: {
    filters: [
      SUBJECTS.orderCreated,
      SUBJECTS.paymentCompleted,
      SUBJECTS.paymentFailed,
      SUBJECTS.orderCancelled,
      SUBJECTS.paymentRefunded,
    ].flatMap((subject) => [subject, express(subject)]),
    maxAckPending: 1,
    // One instance reads every message, so it is handed both copies of an
    // order published in two versions: it counts the twin it reads.
    twinCopies: 'skip',
    // Counted exactly once, and a replay counts what the stream holds: an
    // event dropped here (a full bucket, a write that keeps failing) would
    // be missing from the live windows only. It waits instead.
    maxDeliver: -1,
  },
  // Due order deadlines (both lanes), relayed by the inventory worker into
  // ORDERS as `orders.cancel_requested` in the order's lane.
  'inventory-deadlines': {
    stream: STREAMS.deadlines.name,
    subjectPrefix: `${DEADLINE_FIRED_PREFIX}.`,
    filters: [`${DEADLINE_FIRED_PREFIX}.>`],
  },
} as const satisfies Record<string, SagaConsumer>

/** The stream a saga consumer reads. */
export function streamOf(name: SagaConsumerName): string {
  const spec: SagaConsumer = SAGA_CONSUMERS[name]
  return spec.stream ?? STREAMS.orders.name
}

export type SagaConsumerName = keyof typeof SAGA_CONSUMERS

/** Which lane a consumer carries: `*-express` the express lane, analytics both, the rest the standard lane. */
export function consumerLane(name: SagaConsumerName): 'standard' | 'express' | 'both' {
  if (name === 'analytics' || name === 'inventory-deadlines') return 'both'
  return name.endsWith('-express') ? 'express' : 'standard'
}

export const SAGA_CONSUMER_NAMES = Object.keys(SAGA_CONSUMERS) as SagaConsumerName[]

/**
 * Creates or updates one saga consumer on its stream to its configuration in
 * the table; `release` (package.json's version) is kept in its metadata.
 * `yieldToNewer` (the workers, not the provision step): a consumer a later
 * release configured is left as it is (consumer-config-watch.ts).
 */
export function ensureSagaConsumer(
  jsm: JetStreamManager,
  name: SagaConsumerName,
  limits: TopologyLimits,
  release?: string,
  { yieldToNewer = false }: { yieldToNewer?: boolean } = {},
) {
  const spec: SagaConsumer = SAGA_CONSUMERS[name]
  const own = {
    ...limits,
    ...(spec.maxAckPending === undefined ? {} : { maxAckPending: spec.maxAckPending }),
    ...(spec.maxDeliver === undefined ? {} : { maxDeliver: spec.maxDeliver }),
  }
  const config = durableConsumerConfig(name, spec.filters, own)
  return ensureConsumer(
    jsm,
    streamOf(name),
    release === undefined ? config : { ...config, metadata: { [RELEASE_METADATA_KEY]: release } },
    {
      ...(spec.splitFrom === undefined ? {} : { splitFrom: spec.splitFrom }),
      ...(yieldToNewer && release !== undefined
        ? { keep: (existing: ConsumerConfig) => writtenByNewer(existing, release) }
        : {}),
    },
  )
}

/** Creates or updates the dead-letter capture consumer of one saga consumer. */
export function ensureCaptureConsumer(jsm: JetStreamManager, name: SagaConsumerName) {
  return ensureConsumer(jsm, ADVISORY_STREAM, captureConsumerConfig(streamOf(name), name))
}
