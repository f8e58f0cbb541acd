/*
 * Files retries and dead letters under their order in the index, so an
 * order's timeline finds them with one filtered read instead of a scan:
 *
 * - every nak of an ORDERS message (nats-server's MSG_NAKED advisory, kept in
 *   ORDER_RETRIES) becomes `oix.r.<orderId>.<consumer>.<seq>` with the
 *   delivery count (the latest per consumer and message);
 * - every dead letter becomes `oix.d.<orderId>.<dlqSeq>` with its reason.
 *
 * Nothing is written on the happy path: only when a delivery fails.
 */
import type { JsMsg, StoredMsg } from '@nats-io/jetstream'
import type { MsgHdrs } from '@nats-io/nats-core'
import { DEAD_LETTER_HEADERS, STREAMS } from '../../schemas/subjects.ts'
import { startPullLoop, type PullLoop } from '../../shared/nats/pull-loop.ts'
import {
  NAK_ADVISORY_PREFIX,
  ORDER_INDEX_CONSUMERS,
  ensureOrderIndexConsumer,
  type OrderIndexConsumer,
} from '../../shared/nats/order-index.ts'
import type { NatsRuntime } from '../../shared/nats/runtime.ts'
import { isNoMessage } from './index-query.ts'
import { deadLetterSubject, retrySubject } from './index-subjects.ts'
import { notPublishedMarker } from '../../shared/nats/not-published.ts'

/** The order an event is about: its CloudEvents subject, else the body's `orderId`. */
export function orderIdOf(headers: MsgHdrs | undefined, data: Uint8Array): string | null {
  const fromHeader = headers?.get('ce-subject') ?? ''
  if (/^[0-9a-fA-F-]{36}$/.test(fromHeader)) return fromHeader
  try {
    const body = JSON.parse(new TextDecoder().decode(data)) as { orderId?: unknown }
    return typeof body.orderId === 'string' && /^[0-9a-fA-F-]{36}$/.test(body.orderId) ? body.orderId : null
  } catch {
    return null
  }
}

interface NakAdvisory {
  stream: string
  consumer: string
  stream_seq: number
  deliveries: number
  timestamp: string
}

function parseNak(data: Uint8Array): NakAdvisory | null {
  try {
    const a = JSON.parse(new TextDecoder().decode(data)) as Partial<NakAdvisory>
    return typeof a.consumer === 'string' &&
      typeof a.stream_seq === 'number' &&
      typeof a.deliveries === 'number'
      ? {
          stream: a.stream ?? STREAMS.orders.name,
          consumer: a.consumer,
          stream_seq: a.stream_seq,
          deliveries: a.deliveries,
          timestamp: a.timestamp ?? '',
        }
      : null
  } catch {
    return null
  }
}

export interface IndexFiler {
  stop(): Promise<void>
}

export async function startIndexFiler(rt: NatsRuntime): Promise<IndexFiler> {
  const timeout = rt.config.NATS_REQUEST_TIMEOUT_MS
  const loadOriginal = (seq: number): Promise<StoredMsg | null> =>
    rt.jsm.direct.getMessage(STREAMS.orders.name, { seq }).catch((error: unknown) => {
      if (isNoMessage(error)) return null
      throw error
    })

  async function fileRetry(msg: JsMsg): Promise<void> {
    const nak = parseNak(msg.data)
    // A stored copy put on an advisory subject, or a body about another
    // consumer than the subject's: not nats-server's word (docs/security.md).
    if (
      nak !== null &&
      (notPublishedMarker(msg.headers) !== undefined ||
        msg.subject !== `${NAK_ADVISORY_PREFIX}.${nak.stream}.${nak.consumer}`)
    ) {
      rt.logger.warn({ subject: msg.subject, seq: msg.seq }, 'forged nak advisory; not filed')
      return
    }
    const original = nak === null ? null : await loadOriginal(nak.stream_seq)
    const orderId = original === null ? null : orderIdOf(original.header, original.data)
    if (nak === null || original === null || orderId === null) return
    const body = { subject: original.subject, deliveries: nak.deliveries, at: nak.timestamp }
    await rt.js.publish(retrySubject(orderId, nak.consumer, nak.stream_seq), JSON.stringify(body), {
      timeout,
    })
  }

  async function fileDeadLetter(msg: JsMsg): Promise<void> {
    const orderId = orderIdOf(msg.headers, msg.data)
    if (orderId === null) return
    const h = (name: string) => msg.headers?.get(name) ?? ''
    const body = {
      subject: h(DEAD_LETTER_HEADERS.subject),
      consumer: h(DEAD_LETTER_HEADERS.consumer),
      deliveries: Number(h(DEAD_LETTER_HEADERS.deliveries)) || null,
      reason: h(DEAD_LETTER_HEADERS.reason),
      sequence: Number(h(DEAD_LETTER_HEADERS.sequence)) || null,
      time: h(DEAD_LETTER_HEADERS.time),
    }
    await rt.js.publish(deadLetterSubject(orderId, msg.seq), JSON.stringify(body), { timeout })
  }

  const loops = await Promise.all([start('retries', fileRetry), start('deadLetters', fileDeadLetter)])

  async function start(name: OrderIndexConsumer, file: (msg: JsMsg) => Promise<void>): Promise<PullLoop> {
    const { stream, durable } = ORDER_INDEX_CONSUMERS[name]
    const getConsumer = () => rt.js.consumers.get(stream, durable)
    // In the consumer gauges and the services protocol's STATS, as the saga's consumers are.
    rt.gauges.track(durable, stream)
    return startPullLoop({
      name: durable,
      logger: rt.logger,
      consumer: await getConsumer(),
      getConsumer,
      reprovision: () => ensureOrderIndexConsumer(rt.jsm, name, rt.limits).then(() => undefined),
      expiresMs: 5_000,
      nextBatchSize: () => Promise.resolve(16),
      onMessage: async (msg) => {
        try {
          await file(msg)
          msg.ack()
        } catch (error) {
          rt.logger.warn(
            { err: error, consumer: durable, seq: msg.seq },
            'could not file in the order index; will retry',
          )
          msg.nak(1_000)
        }
      },
    })
  }

  return {
    async stop() {
      await Promise.all(loops.map((l) => l.stop()))
    },
  }
}
