/*
 * The order index the operator console searches (workers/console,
 * docs/console.md): stream `ORDER_INDEX`, one message per order on a subject
 * that spells its creation time, status, reason and customer, so a subject
 * filter finds a page of orders without reading the others. The console's
 * index writer keeps it from the order-status bucket; the provision step
 * (admin) creates the streams and the writer's consumers here.
 */
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream'
import { nanos } from '@nats-io/nats-core'
import { BUCKETS, STREAMS } from '../../schemas/subjects.ts'
import { ensureConsumer, ensureStream, type TopologyLimits } from './topology.ts'

const MiB = 1024 * 1024
const DAY_MS = 24 * 60 * 60_000

export const ORDER_INDEX = {
  stream: 'ORDER_INDEX',
  /** Subjects: `oix.o.<slot>.<status>.<reason>.<customer>.<orderId>`, `oix.r.…` (retries), `oix.d.…` (dead letters). */
  prefix: 'oix',
  /** JetStream's nak advisories of ORDERS, kept until the writer has filed them by order. */
  retriesStream: 'ORDER_RETRIES',
  /** How long an entry lives: as long as the order-status record it points at. */
  maxAgeMs: 30 * DAY_MS,
  maxBytes: 1024 * MiB,
} as const

/** The index writer's durable consumers: [stream, durable]. */
export const ORDER_INDEX_CONSUMERS = {
  /** Every order-status record write (the projection's output). */
  records: { stream: `KV_${BUCKETS.orderStatus}`, durable: 'order-index' },
  /** Nak advisories: a delivery that failed and will be retried. */
  retries: { stream: ORDER_INDEX.retriesStream, durable: 'order-index-retries' },
  /** Dead letters, filed under their order. */
  deadLetters: { stream: STREAMS.deadLetters.name, durable: 'order-index-dead-letters' },
} as const

export type OrderIndexConsumer = keyof typeof ORDER_INDEX_CONSUMERS

/** Where nats-server (2.11+) announces a nak: `<prefix>.<stream>.<consumer>`. */
export const NAK_ADVISORY_PREFIX = '$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED'

/** The nak advisories of every consumer of `stream`. */
export const nakAdvisorySubject = (stream: string): string => `${NAK_ADVISORY_PREFIX}.${stream}.*`

export function orderIndexStreamConfig(limits: TopologyLimits): Partial<StreamConfig> & { name: string } {
  return {
    name: ORDER_INDEX.stream,
    description: 'Order index for the operator console: one message per order, found by subject filter',
    subjects: [`${ORDER_INDEX.prefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: limits.replicas,
    // One entry per subject: a rewrite replaces, and a status change purges the old subject.
    max_msgs_per_subject: 1,
    max_age: nanos(ORDER_INDEX.maxAgeMs),
    max_bytes: ORDER_INDEX.maxBytes,
    max_msg_size: 64 * 1024,
    // Pages are read with batched direct gets (any replica may answer: an index may lag a little).
    allow_direct: true,
  }
}

export function orderRetriesStreamConfig(limits: TopologyLimits): Partial<StreamConfig> & { name: string } {
  return {
    name: ORDER_INDEX.retriesStream,
    description: `Nak advisories of ${STREAMS.orders.name}, filed by order into ${ORDER_INDEX.stream}`,
    subjects: [nakAdvisorySubject(STREAMS.orders.name)],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: limits.replicas,
    max_age: nanos(7 * DAY_MS),
    max_bytes: 64 * MiB,
  }
}

/** Explicit acks, never given up on: the writer holds messages while it coalesces an order's changes. */
export function orderIndexConsumerConfig(
  name: OrderIndexConsumer,
  limits: TopologyLimits,
): Partial<ConsumerConfig> & { durable_name: string } {
  const { durable } = ORDER_INDEX_CONSUMERS[name]
  return {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(limits.ackWaitMs),
    max_deliver: -1,
    max_ack_pending: name === 'records' ? 20_000 : 256,
  }
}

/** Creates or updates the index's two streams. Idempotent. */
export async function ensureOrderIndexStreams(jsm: JetStreamManager, limits: TopologyLimits): Promise<void> {
  const shrink = { allowShrink: limits.allowShrink === true }
  await ensureStream(jsm, orderIndexStreamConfig(limits), shrink)
  await ensureStream(jsm, orderRetriesStreamConfig(limits), shrink)
}

/** Creates or updates the index writer's consumers (after its streams). Idempotent. */
export async function ensureOrderIndexConsumers(
  jsm: JetStreamManager,
  limits: TopologyLimits,
): Promise<string[]> {
  const names = Object.keys(ORDER_INDEX_CONSUMERS) as OrderIndexConsumer[]
  for (const name of names) await ensureOrderIndexConsumer(jsm, name, limits)
  return names.map((n) => ORDER_INDEX_CONSUMERS[n].durable)
}

export function ensureOrderIndexConsumer(
  jsm: JetStreamManager,
  name: OrderIndexConsumer,
  limits: TopologyLimits,
) {
  return ensureConsumer(jsm, ORDER_INDEX_CONSUMERS[name].stream, orderIndexConsumerConfig(name, limits))
}
