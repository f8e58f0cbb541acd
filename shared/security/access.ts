/*
 * Who may do what on the bus: one table. The nats-server authorization block
 * (nats-auth-config.ts), the permission table in docs/security.md and the
 * denial tests are all derived from it.
 *
 * Every service identity may publish only the events it produces, pull only
 * from its own durable consumers (and re-create them if lost, with the
 * configuration the table gives), and read or write only the KV buckets
 * named here. Streams, buckets and every consumer are provisioned by
 * `admin` (the `provision` step); no service identity can create, update,
 * delete or purge a stream.
 */
import { answerInboxPrefixOf, inboxPrefixOf } from './inbox-prefix.ts'
import {
  BUCKETS,
  DEADLINE_SCHEDULE_PREFIX,
  LEGACY_DEADLINE_SCHEDULE_PREFIX,
  EXPRESS_SUFFIX,
  STREAMS,
  SUBJECTS,
  toDeadLetterSubject,
  type Subject,
} from '../../schemas/subjects.ts'
import { missingOriginalSubject } from '../nats/dead-letter-advisory.ts'
import { ADVISORY_STREAM, captureDurableName } from '../nats/dead-letter-capture.ts'
import { replaySubjectOf, statusSubjectOf } from '../nats/discovery-subjects.ts'
import { LANE_SIGNAL_SUBJECT } from '../nats/lane-signals.ts'
import { REPLAYERS, type Replayer } from '../nats/replay-delegate.ts'
import { ORDER_INDEX, ORDER_INDEX_CONSUMERS } from '../nats/order-index.ts'
import { SAGA_CONSUMERS, streamOf, type SagaConsumer, type SagaConsumerName } from '../nats/saga-consumers.ts'
import type { BucketName } from '../nats/topology.ts'

export type BucketAccess = 'read' | 'write'

export interface Grant {
  /** What the identity is for (docs). */
  purpose: string
  /** Events (in both lanes), and subjects that hold schedules (`deadlines.pending.*`, in DEADLINES). */
  publishes: readonly (
    | Subject
    | `${Subject}${typeof EXPRESS_SUFFIX}`
    | typeof DEADLINE_SCHEDULES
    | typeof LEGACY_DEADLINE_SCHEDULES
  )[]
  consumers: readonly SagaConsumerName[]
  buckets: Partial<Record<BucketName, BucketAccess>>
  /** Reads messages of ORDERS by sequence or time (direct get): the analytics replay. */
  readsOrders?: boolean
  /**
   * Express orders under way (lane-signals.ts): `announce` publishes them
   * (the intake), `hold` also takes every other service's and holds its
   * standard work for them (the lanes' workers).
   */
  laneSignals?: 'announce' | 'hold'
  /** Operator rights over whole streams (the console); none for the saga's workers. */
  operator?: OperatorGrant
}

/** What an operator identity may do beyond events, saga consumers and buckets. */
export interface OperatorGrant {
  /** Streams whose messages it reads (by sequence, subject or time) and whose consumers it inspects. */
  reads: readonly string[]
  /** Streams it browses with short-lived consumers of its own (ordered, watches). */
  browses: readonly string[]
  /** Streams it may purge (whole or by subject) and delete single messages from. */
  purges: readonly string[]
  /** Durable consumers of its own. */
  durables: readonly { stream: string; durable: string }[]
  /** Subjects it publishes besides events. */
  writes: readonly string[]
}

/** The express lane's subject of an event. */
const express = <S extends Subject>(subject: S): `${S}${typeof EXPRESS_SUFFIX}` =>
  `${subject}${EXPRESS_SUFFIX}`

/** Order deadline schedules: `deadlines.pending.<orderId>`, in DEADLINES (the only stream with schedules). */
const DEADLINE_SCHEDULES = `${DEADLINE_SCHEDULE_PREFIX}.*` as const
const LEGACY_DEADLINE_SCHEDULES = `${LEGACY_DEADLINE_SCHEDULE_PREFIX}.*` as const

/**
 * The intake without the projection: it publishes orders and cancellations,
 * keeps idempotency records and reads statuses. Compose's (`order-intake`)
 * and the edge's (`order-edge`) differ only in the replays (replayerNameOf).
 */
const INTAKE_ONLY = {
  publishes: [
    SUBJECTS.orderCreated,
    express(SUBJECTS.orderCreated),
    SUBJECTS.orderCancelRequested,
    express(SUBJECTS.orderCancelRequested),
  ],
  consumers: [],
  buckets: { [BUCKETS.idempotency]: 'write', [BUCKETS.orderStatus]: 'read' },
  laneSignals: 'announce',
} as const

/** Service identities; `admin` (provisioning, operator CLIs) is apart: it may do anything. */
export const GRANTS = {
  order: {
    purpose: 'order intake, and the status projection when it runs in the same process',
    publishes: [
      SUBJECTS.orderCreated,
      express(SUBJECTS.orderCreated),
      SUBJECTS.orderCancelRequested,
      express(SUBJECTS.orderCancelRequested),
    ],
    consumers: ['order-status', 'order-status-express'],
    buckets: { [BUCKETS.idempotency]: 'write', [BUCKETS.orderStatus]: 'write' },
    laneSignals: 'hold',
  },
  'order-intake': {
    purpose:
      "order intake without the projection, as compose runs it: answers the console's replays of its events",
    ...INTAKE_ONLY,
  },
  'order-edge': {
    purpose: 'order intake at the edge (Workers, Deno Deploy): no replays, no reads of ORDERS',
    ...INTAKE_ONLY,
  },
  'order-status': {
    purpose: 'order-status projection as its own service',
    publishes: [],
    consumers: ['order-status', 'order-status-express'],
    buckets: { [BUCKETS.orderStatus]: 'write' },
    laneSignals: 'hold',
  },
  inventory: {
    purpose: 'inventory worker and the stock API',
    publishes: [
      SUBJECTS.inventoryReserved,
      SUBJECTS.orderCancelled,
      SUBJECTS.inventoryReleased,
      express(SUBJECTS.inventoryReserved),
      express(SUBJECTS.orderCancelled),
      express(SUBJECTS.inventoryReleased),
      DEADLINE_SCHEDULES,
      // Where releases before DEADLINES scheduled them (in ORDERS): kept for
      // their inventory workers during a rolling upgrade. An ORDERS stream
      // provisioned since refuses schedules (docs/security.md).
      LEGACY_DEADLINE_SCHEDULES,
      // A due deadline, relayed from DEADLINES into ORDERS.
      SUBJECTS.orderCancelRequested,
      express(SUBJECTS.orderCancelRequested),
    ],
    consumers: [
      'inventory',
      'inventory-payments',
      'inventory-express',
      'inventory-payments-express',
      'inventory-deadlines',
    ],
    buckets: {
      [BUCKETS.stock]: 'write',
      [BUCKETS.reservations]: 'write',
      [BUCKETS.decisions]: 'write',
    },
    laneSignals: 'hold',
  },
  payment: {
    purpose: 'payment worker (the only holder of the card-token key)',
    publishes: [
      SUBJECTS.paymentCompleted,
      SUBJECTS.paymentFailed,
      SUBJECTS.paymentRefunded,
      SUBJECTS.orderCancelled,
      express(SUBJECTS.paymentCompleted),
      express(SUBJECTS.paymentFailed),
      express(SUBJECTS.paymentRefunded),
      express(SUBJECTS.orderCancelled),
    ],
    consumers: ['payment', 'payment-express'],
    buckets: {
      [BUCKETS.decisions]: 'write',
      [BUCKETS.reconciliation]: 'write',
    },
    laneSignals: 'hold',
  },
  analytics: {
    purpose: 'analytics worker: order figures per minute; reads ORDERS by sequence to replay',
    publishes: [],
    consumers: ['analytics'],
    buckets: { [BUCKETS.analyticsOrders]: 'write', [BUCKETS.analyticsWindows]: 'write' },
    readsOrders: true,
  },
  console: {
    purpose:
      'operator console: reads orders, events, consumers and stock; purges dead letters and asks the service that owns an event to replay it (publishes no event); keeps the order index',
    // No event: a replay is asked of the event's owner (replay-delegate.ts),
    // which publishes the stored original again. With the events' subjects
    // this identity could forge any step of any order.
    publishes: [],
    consumers: [],
    buckets: { [BUCKETS.orderStatus]: 'read', [BUCKETS.stock]: 'read' },
    operator: {
      reads: [STREAMS.orders.name, STREAMS.deadLetters.name, STREAMS.deadlines.name, ORDER_INDEX.stream],
      browses: [STREAMS.deadLetters.name, `KV_${BUCKETS.orderStatus}`, `KV_${BUCKETS.stock}`],
      purges: [STREAMS.deadLetters.name, ORDER_INDEX.stream],
      durables: Object.values(ORDER_INDEX_CONSUMERS),
      writes: [`${ORDER_INDEX.prefix}.>`, ...REPLAYERS.map(replaySubjectOf)],
    },
  },
} as const satisfies Record<string, Grant>

export type ServiceIdentity = keyof typeof GRANTS
export type Identity = ServiceIdentity | 'admin'
export const SERVICE_IDENTITIES = Object.keys(GRANTS) as ServiceIdentity[]
export const IDENTITIES: readonly Identity[] = ['admin', ...SERVICE_IDENTITIES]

export interface Permissions {
  publish: string[]
  subscribe: string[]
}

/**
 * Whose requests a service answers, by their inboxes: admin's (its own
 * prefix, and `_INBOX.` for the stock `nats` CLI: `nats micro ls`), and the
 * console's for the replayers. Named here instead of nats-server's
 * `allow_responses`, which lets an identity answer any message it receives,
 * its own included: one that may publish and subscribe one subject could
 * publish anything as a "response" (an event, a JetStream API request).
 */
export interface Requesters {
  /** The admin identity's public key. */
  admin: string
  /** The console identity's public key. */
  console: string
}

/**
 * The names a service identity answers the NATS services protocol under
 * (shared/nats/discovery.ts): its own, and `order` for the intake without the
 * projection, which connects as `order-intake` (compose) or `order-edge`.
 */
const DISCOVERY_NAMES: Partial<Record<ServiceIdentity, readonly string[]>> = {
  'order-intake': ['order'],
  'order-edge': ['order'],
}

/** `$SRV.PING|INFO|STATS`, per name and per instance, and the status endpoint (discovery.ts). */
export function discoverySubjects(identity: ServiceIdentity): string[] {
  const names = DISCOVERY_NAMES[identity] ?? [identity]
  return [
    '$SRV.PING',
    '$SRV.INFO',
    '$SRV.STATS',
    ...names.flatMap((name) => [`$SRV.*.${name}`, `$SRV.*.${name}.*`, statusSubjectOf(name)]),
  ]
}

/**
 * The replayer an identity answers as (replay-delegate.ts): its own name, or
 * `order` for `order-intake`, the intake without the projection (compose runs
 * the order service so). The edge's identity answers no replays, so its seed,
 * kept on another's platform, reads no event of `ORDERS` or `DLQ`.
 */
function replayerNameOf(identity: ServiceIdentity): Replayer | undefined {
  if (identity === 'order-edge') return undefined
  const names = DISCOVERY_NAMES[identity] ?? [identity]
  return REPLAYERS.find((r) => names.includes(r))
}

export { inboxPrefixOf }

const ORDERS = STREAMS.orders.name
const API = '$JS.API'

function consumerSubjects(stream: string, durable: string): string[] {
  return [
    `${API}.CONSUMER.INFO.${stream}.${durable}`,
    // Its own consumer only, and re-created only if lost: the admin provisions it first.
    `${API}.CONSUMER.CREATE.${stream}.${durable}`,
    `${API}.CONSUMER.CREATE.${stream}.${durable}.>`,
    `${API}.CONSUMER.DURABLE.CREATE.${stream}.${durable}`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.${durable}`,
    `$JS.ACK.${stream}.${durable}.>`,
  ]
}

function bucketSubjects(bucket: string, access: BucketAccess): string[] {
  const stream = `KV_${bucket}`
  const read = [
    `${API}.STREAM.INFO.${stream}`,
    `${API}.STREAM.MSG.GET.${stream}`,
    `${API}.DIRECT.GET.${stream}`,
    `${API}.DIRECT.GET.${stream}.>`,
  ]
  return access === 'write' ? [...read, `$KV.${bucket}.>`] : read
}

/** The subjects a service identity may publish to and subscribe on. */
export function permissionsOf(
  identity: ServiceIdentity,
  publicKey: string,
  requesters: Requesters,
): Permissions {
  const grant: Grant = GRANTS[identity]
  // Every service waits for and probes the saga's streams (start-up, readiness).
  const publish = new Set<string>([
    `${API}.INFO`,
    `${API}.STREAM.INFO.${ORDERS}`,
    `${API}.STREAM.INFO.${STREAMS.deadLetters.name}`,
    `${API}.STREAM.INFO.${STREAMS.deadlines.name}`,
    ...grant.publishes,
  ])
  if (grant.consumers.length > 0) publish.add(`${API}.STREAM.INFO.${ADVISORY_STREAM}`)
  for (const name of grant.consumers) {
    const { filters }: SagaConsumer = SAGA_CONSUMERS[name]
    const stream = streamOf(name)
    // The dead-letter capture copies an exhausted message from its stream by
    // sequence, and says so on dlq._missing.<stream> when it is gone (a work
    // queue drops what its consumer terminated).
    publish.add(`${API}.STREAM.MSG.GET.${stream}`)
    publish.add(missingOriginalSubject(stream))
    for (const s of consumerSubjects(stream, name)) publish.add(s)
    for (const s of consumerSubjects(ADVISORY_STREAM, captureDurableName(name))) publish.add(s)
    const deadLetters = filters.length === 0 ? STREAMS.orders.subjects : filters
    for (const s of deadLetters) publish.add(toDeadLetterSubject(s))
  }
  if (grant.readsOrders === true) publish.add(`${API}.DIRECT.GET.${ORDERS}`)
  if (grant.laneSignals !== undefined) publish.add(LANE_SIGNAL_SUBJECT)
  for (const [bucket, access] of Object.entries(grant.buckets)) {
    if (access !== undefined) for (const s of bucketSubjects(bucket, access)) publish.add(s)
  }
  if (grant.operator !== undefined) for (const s of operatorSubjects(grant.operator)) publish.add(s)
  const subscribe = [`${inboxPrefixOf(publicKey)}.>`, ...discoverySubjects(identity)]
  // Answers to the NATS services protocol and the status endpoint (admin's),
  // on the part of admin's inbox kept for them (not its JetStream replies).
  publish.add(`${answerInboxPrefixOf(inboxPrefixOf(requesters.admin))}.>`)
  publish.add('_INBOX.>')
  if (grant.laneSignals === 'hold') subscribe.push(LANE_SIGNAL_SUBJECT)
  // Replays its own dead letters when the console asks: reads the dead letter, then the original.
  const replayer = replayerNameOf(identity)
  if (replayer !== undefined) {
    publish.add(`${API}.STREAM.MSG.GET.${STREAMS.deadLetters.name}`)
    publish.add(`${API}.STREAM.MSG.GET.${ORDERS}`)
    subscribe.push(replaySubjectOf(replayer))
    // Answers to the console's replay requests.
    publish.add(`${answerInboxPrefixOf(inboxPrefixOf(requesters.console))}.>`)
  }
  return { publish: [...publish], subscribe }
}

function operatorSubjects({ reads, browses, purges, durables, writes }: OperatorGrant): string[] {
  return [
    ...reads.flatMap((s) => [
      `${API}.STREAM.INFO.${s}`,
      `${API}.STREAM.MSG.GET.${s}`,
      `${API}.DIRECT.GET.${s}`,
      `${API}.DIRECT.GET.${s}.>`,
      `${API}.CONSUMER.INFO.${s}.*`,
      `${API}.CONSUMER.LIST.${s}`,
    ]),
    // Ordered consumers and watches: created, pulled, deleted; a push watch answers flow control.
    ...browses.flatMap((s) => [
      `${API}.STREAM.INFO.${s}`,
      `${API}.CONSUMER.CREATE.${s}`,
      `${API}.CONSUMER.CREATE.${s}.>`,
      `${API}.CONSUMER.MSG.NEXT.${s}.*`,
      `${API}.CONSUMER.DELETE.${s}.*`,
      `${API}.CONSUMER.INFO.${s}.*`,
      `$JS.FC.${s}.>`,
    ]),
    ...purges.flatMap((s) => [`${API}.STREAM.PURGE.${s}`, `${API}.STREAM.MSG.DELETE.${s}`]),
    ...durables.flatMap(({ stream, durable }) => [
      `${API}.STREAM.INFO.${stream}`,
      ...consumerSubjects(stream, durable),
    ]),
    ...writes,
  ]
}
