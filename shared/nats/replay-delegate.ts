/*
 * Dead-letter replay by the service that owns the event. The console may
 * ask for a replay but may publish no event itself: with that right its
 * identity could forge any step of any order (`payments.completed` with a
 * charge that never happened). It sends the dead letter's id on
 * `saga.replay.<service>` to the service whose identity publishes that
 * event; the service reads the dead letter and the original from the
 * streams and publishes the stored bytes again (`replayDeadLetter`). A
 * request names a dead letter, never content, so the console can only make
 * a service repeat what is already stored. `admin` (the dlq CLI) still
 * replays directly.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import { NoRespondersError, type NatsConnection, type Subscription } from '@nats-io/nats-core'
import * as v from 'valibot'
import { STREAMS, SUBJECTS, splitLane, type Subject } from '../../schemas/subjects.ts'
import type { Logger } from '../observability/log.ts'
import {
  DeadLetterNotFoundError,
  DeadLetterNotReplayableError,
  DeadLetterReplayError,
  replayDeadLetter,
  showDeadLetter,
  type ReplayResult,
} from './dead-letter-admin.ts'
import { answerInboxPrefixOf } from '../security/inbox-prefix.ts'
import { replaySubjectOf } from './discovery-subjects.ts'
import { isNatsUnavailable } from './errors.ts'
import { isInboxReply } from './inbox-replies.ts'

/** The services that replay their own events, in the order a subject's owner is looked for. */
export const REPLAYERS = ['order', 'inventory', 'payment'] as const
export type Replayer = (typeof REPLAYERS)[number]

/**
 * The events (either lane) each replayer's identity publishes: the grants of
 * shared/security/access.ts, which a test holds this table to.
 */
export const REPLAY_OWNERSHIP: Readonly<Record<Replayer, readonly Subject[]>> = {
  order: [SUBJECTS.orderCreated, SUBJECTS.orderCancelRequested],
  inventory: [
    SUBJECTS.inventoryReserved,
    SUBJECTS.orderCancelled,
    SUBJECTS.inventoryReleased,
    SUBJECTS.orderCancelRequested,
  ],
  payment: [
    SUBJECTS.paymentCompleted,
    SUBJECTS.paymentFailed,
    SUBJECTS.paymentRefunded,
    SUBJECTS.orderCancelled,
  ],
}

/**
 * Who replays a dead letter: inventory for a due deadline (it relays them),
 * else the first replayer whose identity publishes the original's subject.
 */
export function replayerOf(original: { subject: string | null; stream: string | null }): Replayer | null {
  if (original.stream === STREAMS.deadlines.name) return 'inventory'
  if (original.subject === null) return null
  const base = splitLane(original.subject).subject
  return REPLAYERS.find((r) => REPLAY_OWNERSHIP[r].some((s) => s === base)) ?? null
}

const Request = v.object({ id: v.pipe(v.number(), v.safeInteger(), v.minValue(1)) })

type Answer =
  | { ok: true; result: ReplayResult }
  | { ok: false; error: 'not_found' | 'not_replayable' | 'unavailable' | 'bad_request'; message: string }

const encoder = new TextEncoder()

/** JetStream calls a replay makes in a row at most: two DLQ reads, ORDERS, publish, read-back, publish. */
const REPLAY_STEPS = 6

const isNoResponders = (error: unknown): boolean =>
  error instanceof NoRespondersError || (error instanceof Error && error.cause instanceof NoRespondersError)

export interface ReplayResponder {
  /** Takes no more requests and waits for the answers under way. */
  stop(): Promise<void>
}

/** Answers `saga.replay.<service>` (queue group `replay`): replays the dead letters this service owns. */
export function serveReplays({
  nc,
  js,
  jsm,
  service,
  logger,
  timeoutMs,
}: {
  nc: NatsConnection
  js: JetStreamClient
  jsm: JetStreamManager
  service: Replayer
  logger: Logger
  timeoutMs: number
}): ReplayResponder {
  async function answer(data: unknown): Promise<Answer> {
    const request = v.safeParse(Request, data)
    if (!request.success) return { ok: false, error: 'bad_request', message: 'send {"id": <DLQ sequence>}' }
    const { id } = request.output
    try {
      const letter = await showDeadLetter(jsm, id)
      const owner = replayerOf(letter)
      if (owner !== service)
        return {
          ok: false,
          error: 'not_replayable',
          message: `dead letter ${id} (${letter.subject ?? 'no original'}) is not ${service}'s to replay${owner === null ? '' : `: ${owner} replays it`}`,
        }
      const result = await replayDeadLetter(js, jsm, id, { timeoutMs })
      logger.info(
        { deadLetter: id, subject: result.subject, duplicate: result.duplicate },
        'dead letter replayed',
      )
      return { ok: true, result }
    } catch (error) {
      if (error instanceof DeadLetterNotFoundError)
        return { ok: false, error: 'not_found', message: error.message }
      if (error instanceof DeadLetterNotReplayableError)
        return { ok: false, error: 'not_replayable', message: error.message }
      if (error instanceof DeadLetterReplayError || isNatsUnavailable(error)) {
        logger.warn({ err: error, deadLetter: id }, 'dead letter replay failed; the operator may retry')
        return {
          ok: false,
          error: 'unavailable',
          message: `replaying dead letter ${id} failed; retry shortly`,
        }
      }
      logger.error({ err: error, deadLetter: id }, 'dead letter replay crashed')
      return { ok: false, error: 'unavailable', message: `replaying dead letter ${id} failed` }
    }
  }

  const inFlight = new Set<Promise<void>>()
  const sub: Subscription = nc.subscribe(replaySubjectOf(service), {
    queue: 'replay',
    callback: (error, msg) => {
      if (error !== null) {
        // A subscription the identity may not make: the edge's (`order-edge`)
        // takes none by design; an instance whose identity may (compose's
        // `order-intake`) answers the console's replays of these events.
        logger.warn(
          { reason: error.message, subject: replaySubjectOf(service) },
          "this identity may not take dead-letter replays: the console's replays of these events are answered only by an instance whose identity may (set DEAD_LETTER_REPLAYS=off where that is intended)",
        )
        return
      }
      if (msg.reply === undefined || !isInboxReply(msg.reply)) {
        // Answered on the asker's inbox only: any other reply subject could be
        // one of this service's own records, which it may write.
        logger.warn(
          { reply: msg.reply ?? '' },
          'replay request without an inbox this service may answer on (_INBOX. or an answer part); ignored',
        )
        return
      }
      let data: unknown
      try {
        data = msg.json()
      } catch {
        data = undefined
      }
      const task = answer(data)
        .then((a) => void msg.respond(encoder.encode(JSON.stringify(a))))
        .catch((respondError: unknown) => {
          // The connection closed or is draining: the console's request times out and says so.
          logger.warn({ err: respondError }, 'replay answer not sent')
        })
        .finally(() => inFlight.delete(task))
      inFlight.add(task)
    },
  })
  return {
    async stop() {
      sub.unsubscribe()
      await Promise.allSettled([...inFlight])
    },
  }
}

/**
 * A fresh reply subject on the answer part of a connection's inbox
 * (`<inbox prefix>.answers.<random>`), where services may answer it
 * (access.ts). The token is random, not the process's next NUID: the service
 * sees this subject, and from one NUID the next ones follow (a fixed prefix,
 * a counter): the subjects of this process's pull consumers, where a
 * JetStream answer that another identity's request pointed there would land.
 */
export function answerInbox(nc: NatsConnection): string {
  const { options } = nc as NatsConnection & { options?: { inboxPrefix?: string } }
  const token = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('')
  return `${answerInboxPrefixOf(options?.inboxPrefix ?? '_INBOX')}.${token}`
}

/**
 * Asks `service` to replay dead letter `id`; its answer, or the errors
 * `replayDeadLetter` throws (not found, not replayable, failed), so callers
 * handle a delegated replay as a direct one.
 */
export async function requestReplay(
  nc: NatsConnection,
  service: Replayer,
  id: number,
  timeoutMs: number,
): Promise<ReplayResult> {
  let reply
  try {
    // The owner makes up to six JetStream calls in a row, each within `timeoutMs`.
    reply = await nc.request(replaySubjectOf(service), encoder.encode(JSON.stringify({ id })), {
      timeout: timeoutMs * REPLAY_STEPS,
      // On the part of the inbox services may answer (access.ts), not the
      // shared one of this connection's JetStream requests: the service sees
      // this reply subject, and must learn nothing of those.
      noMux: true,
      reply: answerInbox(nc),
    })
  } catch (error) {
    throw new DeadLetterReplayError(
      isNoResponders(error)
        ? `no ${service} service answers replays (it replays its own events: is it running?); nothing was replayed`
        : `the ${service} service did not answer the replay of dead letter ${id} in time; it may have been replayed: replaying again is safe (stored once per id)`,
      { cause: error },
    )
  }
  const answer = reply.json<Answer>()
  if (answer.ok) return answer.result
  if (answer.error === 'not_found') throw new DeadLetterNotFoundError(answer.message)
  if (answer.error === 'not_replayable') throw new DeadLetterNotReplayableError(answer.message)
  throw new DeadLetterReplayError(answer.message)
}
