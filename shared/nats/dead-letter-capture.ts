import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StreamConfig,
} from '@nats-io/jetstream'
import { nanos } from '@nats-io/nats-core'
import { DEAD_LETTER_HEADERS, STREAMS } from '../../schemas/subjects.ts'
import type { Logger } from '../observability/logger.ts'
import { deadLetterReasonLabel } from '../observability/labels.ts'
import type { Metrics } from '../observability/metrics.ts'
import {
  ADVISORY_PREFIXES,
  advisorySubjects,
  parseAdvisory,
  toDeadLetterCopy,
  type DeliveryAdvisory,
} from './dead-letter-advisory.ts'
import { notPublishedMarker } from './not-published.ts'
import { startPullLoop } from './pull-loop.ts'
import { ensureConsumer, requireStreams, type TopologyLimits } from './topology.ts'

/** Keeps JetStream's MAX_DELIVERIES / MSG_TERMINATED advisories about the saga stream. */
export const ADVISORY_STREAM = 'DLQ_ADVISORIES'

const MiB = 1024 * 1024
const ADVISORY_MAX_AGE_MS = 7 * 24 * 60 * 60_000
const CAPTURE_ACK_WAIT_MS = 30_000

/** The streams saga consumers read: ORDERS, and DEADLINES (the inventory worker's relay). */
const CONSUMED_STREAMS = [STREAMS.orders.name, STREAMS.deadlines.name]

export function advisoryStreamConfig(
  limits: TopologyLimits,
  streams: readonly string[] = CONSUMED_STREAMS,
): Partial<StreamConfig> & { name: string } {
  return {
    name: ADVISORY_STREAM,
    description: `JetStream max-deliveries and terminated advisories of ${streams.join(', ')}, turned into dead letters`,
    subjects: streams.flatMap((stream) => advisorySubjects(stream)),
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    num_replicas: limits.replicas,
    max_age: nanos(ADVISORY_MAX_AGE_MS),
    max_bytes: 64 * MiB,
  }
}

export const captureDurableName = (durable: string): string => `dlq-capture-${durable}`

/** One capture consumer per worker durable, seeing only that durable's advisories; it never gives up. */
export function captureConsumerConfig(
  stream: string,
  durable: string,
): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: captureDurableName(durable),
    description: `Copies ${stream} messages that ${durable} exhausted or terminated into the DLQ`,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(CAPTURE_ACK_WAIT_MS),
    max_deliver: -1,
    max_ack_pending: 64,
    filter_subjects: advisorySubjects(stream, durable),
  }
}

export interface DeadLetterCaptureOptions {
  js: JetStreamClient
  jsm: JetStreamManager
  logger: Logger
  metrics: Metrics
  /** The stream the worker consumes (ORDERS). */
  stream: string
  /** The worker's durable consumer on `stream`. */
  durable: string
  publishTimeoutMs: number
  /** The identity's dead-letter id key: the same ids as the consumer loop's (deadLetterMsgId). */
  idKey?: Uint8Array
  /** Delay before an advisory is retried after the n-th failed attempt to store its dead letter. */
  nakDelayMs?: (deliveryCount: number) => number
  /** How long one pull waits for advisories (>= 1000). */
  pullExpiresMs?: number
}

export interface DeadLetterCapture {
  /** Stops pulling and lets the advisory in hand finish. */
  stop(): Promise<void>
  done: Promise<void>
}

const captureNakDelay = (n: number): number => Math.min(30_000, 1_000 * 2 ** Math.max(0, n - 1))

/**
 * Why an advisory did not come from nats-server, if it did not: it carries
 * the headers of a stored copy (a direct get's answer), or its body names
 * another stream, consumer or kind than the subject the server published it on
 * (`$JS.EVENT.ADVISORY.CONSUMER.<kind>.<stream>.<consumer>`).
 */
function notFromTheServer(msg: JsMsg, advisory: DeliveryAdvisory): string | undefined {
  const marker = notPublishedMarker(msg.headers)
  if (marker !== undefined) return `a stored copy (${marker}), not an advisory`
  const kind = advisory.type === 'io.nats.jetstream.advisory.v1.max_deliver' ? 'maxDeliveries' : 'terminated'
  const expected = `${ADVISORY_PREFIXES[kind]}.${advisory.stream}.${advisory.consumer}`
  if (msg.subject !== expected) return `its body is for ${expected}, it came on ${msg.subject}`
  return undefined
}

/**
 * Catches what the consumer loop could not: a message whose last delivery ran
 * out of ack wait (crash, hang) or was nak'd, or one terminated elsewhere.
 * Provisions the advisory stream and this durable's capture consumer
 * (idempotent), then copies the original of every advisory to `dlq.<subject>`
 * under the loop's own message id, so a message the loop already dead-lettered
 * is not stored twice. Ack once stored; nak with backoff when not.
 */
export async function startDeadLetterCapture(options: DeadLetterCaptureOptions): Promise<DeadLetterCapture> {
  const { js, jsm, logger, metrics, stream, durable, publishTimeoutMs } = options
  const name = captureDurableName(durable)
  const nakDelay = options.nakDelayMs ?? captureNakDelay
  // The provision step creates the advisory stream and this consumer; a lost
  // consumer is re-created here (the worker's identity may, for its own).
  const provision = async (): Promise<void> => {
    await requireStreams(jsm, [ADVISORY_STREAM])
    await ensureConsumer(jsm, ADVISORY_STREAM, captureConsumerConfig(stream, durable))
  }
  const getConsumer = () => js.consumers.get(ADVISORY_STREAM, name)
  await provision()
  const consumer = await getConsumer()

  async function handle(msg: JsMsg): Promise<string> {
    const parsed = parseAdvisory(msg.data)
    const forged = parsed.ok ? notFromTheServer(msg, parsed.advisory) : undefined
    if (forged !== undefined) {
      // A JetStream answer stored on an advisory subject (docs/security.md):
      // copying "its" original would dead-letter a message nobody gave up on.
      logger.error(
        { consumer: name, subject: msg.subject, seq: msg.seq, detail: forged },
        'forged advisory; terminated',
      )
      msg.term('forged advisory')
      return 'term'
    }
    if (!parsed.ok) {
      // Cannot become valid by retrying; it stays in the advisory stream for a look.
      logger.error(
        { consumer: name, subject: msg.subject, seq: msg.seq, detail: parsed.detail },
        'unreadable advisory; terminated',
      )
      msg.term('unreadable advisory')
      return 'term'
    }
    const { advisory } = parsed
    const log = logger.child({
      consumer: advisory.consumer,
      seq: advisory.stream_seq,
      advisory: advisory.type,
    })
    try {
      const original = await jsm.streams.getMessage(advisory.stream, { seq: advisory.stream_seq })
      const copy = toDeadLetterCopy(advisory, original, new Date(), options.idKey)
      const ack = await js.publish(copy.subject, copy.data, {
        headers: copy.headers,
        msgID: copy.msgId,
        timeout: publishTimeoutMs,
      })
      msg.ack()
      if (ack.duplicate) {
        log.debug('already dead-lettered')
        return 'duplicate'
      }
      const reason = copy.headers.get(DEAD_LETTER_HEADERS.reason)
      metrics.deadLetters.inc({ consumer: advisory.consumer, reason: deadLetterReasonLabel(reason) })
      log.warn(
        { reason, dlqSeq: ack.seq },
        original === null ? 'dead letter stored without body' : 'message dead-lettered from advisory',
      )
      return 'dead_letter'
    } catch (error) {
      const delay = nakDelay(msg.info.deliveryCount)
      log.error({ err: error, retryInMs: delay }, 'could not store dead letter from advisory; will retry')
      msg.nak(delay)
      return 'nak'
    }
  }

  const loop = startPullLoop({
    name,
    logger,
    consumer,
    getConsumer,
    reprovision: provision,
    expiresMs: options.pullExpiresMs ?? 5_000,
    nextBatchSize: () => Promise.resolve(16),
    onMessage: async (msg) => {
      const outcome = await handle(msg)
      metrics.messagesHandled.inc({ consumer: name, subject: msg.subject, outcome })
    },
  })

  logger.info({ stream: ADVISORY_STREAM, consumer: name }, 'dead-letter capture started')
  return {
    done: loop.done,
    async stop() {
      await loop.stop()
      logger.info({ consumer: name }, 'dead-letter capture stopped')
    },
  }
}
