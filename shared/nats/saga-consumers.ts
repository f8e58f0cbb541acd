/*
 * The saga's durable consumers on ORDERS: one table that the provision step,
 * the workers (re-creating a lost consumer) and the access table
 * (shared/security/access.ts) all read.
 */
import type { JetStreamManager } from '@nats-io/jetstream'
import { STREAMS, SUBJECTS } from '../../schemas/subjects.ts'
import { captureConsumerConfig, ADVISORY_STREAM } from './dead-letter-capture.ts'
import { durableConsumerConfig, ensureConsumer, type TopologyLimits } from './topology.ts'

export interface SagaConsumer {
  /** Subject filters; none = every subject of the stream. */
  filters: readonly string[]
  /** See `EnsureConsumerOptions.splitFrom`. */
  splitFrom?: string
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
export const SAGA_CONSUMERS = {
  // Every subject, so no filter: a consumer with several filters was slow on
  // 2.10 (60,000 orders applied at 925/s with three filters, 7,500/s without).
  'order-status': { filters: [] },
  'inventory-payments': {
    filters: [SUBJECTS.paymentCompleted, SUBJECTS.paymentFailed, SUBJECTS.orderCancelled],
    splitFrom: 'inventory',
  },
  inventory: { filters: [SUBJECTS.orderCreated, SUBJECTS.orderCancelRequested] },
  payment: { filters: [SUBJECTS.inventoryReserved, SUBJECTS.orderCancelRequested] },
} as const satisfies Record<string, SagaConsumer>

export type SagaConsumerName = keyof typeof SAGA_CONSUMERS

export const SAGA_CONSUMER_NAMES = Object.keys(SAGA_CONSUMERS) as SagaConsumerName[]

/** Creates or updates one saga consumer on ORDERS to its configuration in the table. */
export function ensureSagaConsumer(jsm: JetStreamManager, name: SagaConsumerName, limits: TopologyLimits) {
  const spec: SagaConsumer = SAGA_CONSUMERS[name]
  return ensureConsumer(
    jsm,
    STREAMS.orders.name,
    durableConsumerConfig(name, spec.filters, limits),
    spec.splitFrom === undefined ? {} : { splitFrom: spec.splitFrom },
  )
}

/** Creates or updates the dead-letter capture consumer of one saga consumer. */
export function ensureCaptureConsumer(jsm: JetStreamManager, name: SagaConsumerName) {
  return ensureConsumer(jsm, ADVISORY_STREAM, captureConsumerConfig(STREAMS.orders.name, name))
}
