import type { JetStreamClient, JsMsg } from '@nats-io/jetstream'
import * as v from 'valibot'
import { EVENT_SCHEMAS, type EventOf } from '../../schemas/events.ts'
import { HEADERS, type Subject } from '../../schemas/subjects.ts'
import type { Logger } from '../observability/logger.ts'
import type { Metrics } from '../observability/metrics.ts'
import { deadLetter, type PoisonReason } from './dead-letter.ts'
import { publishEvent, type OutgoingEvent } from './publish.ts'

export interface MessageContext {
  correlationId: string
  deliveryCount: number
  logger: Logger
}

/** Handles one event and returns the events it produced; the runner publishes them, then acks. */
export type Handler<S extends Subject> = (event: EventOf<S>, ctx: MessageContext) => Promise<readonly OutgoingEvent[]>

export type Handlers = { [S in Subject]?: Handler<S> }

export interface ConsumerOptions {
  js: JetStreamClient
  logger: Logger
  metrics: Metrics
  stream: string
  durable: string
  handlers: Handlers
  /** Messages handled at once. */
  concurrency: number
  /** Must match the consumer's `max_deliver`: the last delivery dead-letters instead of nak. */
  maxDeliver: number
  /** Must match the consumer's `ack_wait`: long handlers send `working()` before it runs out. */
  ackWaitMs: number
  publishTimeoutMs: number
  /** Delay before redelivery after the n-th failed delivery. */
  nakDelayMs?: (deliveryCount: number) => number
}

export interface RunningConsumer {
  /** Stops pulling, lets in-flight messages finish (ack/nak), then resolves. */
  stop(): Promise<void>
  /** Settles when the message loop ends. */
  done: Promise<void>
  inFlight(): number
}

export function defaultNakDelay(deliveryCount: number): number {
  const base = Math.min(30_000, 500 * 2 ** Math.max(0, deliveryCount - 1))
  return Math.round(base / 2 + Math.random() * (base / 2))
}

type Parsed = { ok: true; subject: Subject; event: unknown } | { ok: false; reason: PoisonReason; detail: string }

function parseMessage(msg: JsMsg, handlers: Handlers): Parsed {
  const subject = msg.subject as Subject
  if (!(subject in EVENT_SCHEMAS) || handlers[subject] === undefined) {
    return { ok: false, reason: 'unexpected_subject', detail: `no handler for ${msg.subject}` }
  }
  let raw: unknown
  try {
    raw = JSON.parse(msg.string())
  } catch (error) {
    return { ok: false, reason: 'malformed_json', detail: error instanceof Error ? error.message : String(error) }
  }
  const result = v.safeParse(EVENT_SCHEMAS[subject], raw)
  if (!result.success) {
    const detail = result.issues.map((i) => `${v.getDotPath(i) ?? '(root)'}: ${i.message}`).join('; ')
    return { ok: false, reason: 'schema_violation', detail }
  }
  return { ok: true, subject, event: result.output }
}

/**
 * The one message loop every worker uses. It decides each message's fate in
 * one place: poison (bad JSON, schema violation) -> dead letter + `term`, no
 * retry; handler error -> `nak` with backoff, or dead letter on the last
 * delivery; success -> publish the produced events, then `ack`.
 */
export async function startConsumer(options: ConsumerOptions): Promise<RunningConsumer> {
  const { js, logger, metrics, stream, durable, handlers, concurrency, maxDeliver, ackWaitMs } = options
  const nakDelay = options.nakDelayMs ?? defaultNakDelay
  const consumer = await js.consumers.get(stream, durable)
  const messages = await consumer.consume({ max_messages: Math.max(concurrency * 2, 16) })
  const active = new Set<Promise<void>>()
  let stopping = false

  async function handle(msg: JsMsg): Promise<void> {
    const started = performance.now()
    const correlationId = msg.headers?.get(HEADERS.correlationId) || 'none'
    const deliveryCount = msg.info.deliveryCount
    const base = { consumer: durable, subject: msg.subject, seq: msg.seq, deliveryCount, correlationId }
    let outcome = 'ack'
    const parsed = parseMessage(msg, handlers)
    if (!parsed.ok) {
      outcome = (await deadLetter(js, msg, parsed.reason, parsed.detail, durable, logger, options.publishTimeoutMs))
        ? 'dead_letter'
        : 'nak'
    } else {
      const orderId = (parsed.event as { orderId?: string }).orderId
      const log = logger.child({ ...base, orderId })
      const heartbeat = setInterval(() => msg.working(), Math.max(1_000, ackWaitMs / 3))
      try {
        const handler = handlers[parsed.subject] as Handler<Subject>
        const produced = await handler(parsed.event as EventOf<Subject>, { correlationId, deliveryCount, logger: log })
        for (const event of produced) {
          await publishEvent(js, event, { correlationId, timeoutMs: options.publishTimeoutMs })
          metrics.eventsPublished.inc({ subject: event.subject })
        }
        msg.ack()
        log.debug({ produced: produced.map((e) => e.subject) }, 'message handled')
      } catch (error) {
        if (deliveryCount >= maxDeliver) {
          log.error({ err: error }, 'message failed on its last delivery; dead-lettering')
          outcome = (await deadLetter(js, msg, 'max_deliver_exhausted', String(error), durable, logger, options.publishTimeoutMs))
            ? 'dead_letter'
            : 'nak'
        } else {
          const delay = nakDelay(deliveryCount)
          log.warn({ err: error, retryInMs: delay }, 'message failed; will be redelivered')
          msg.nak(delay)
          outcome = 'nak'
        }
      } finally {
        clearInterval(heartbeat)
      }
    }
    metrics.messagesHandled.inc({ consumer: durable, subject: msg.subject, outcome })
    metrics.messageDuration.observe({ consumer: durable, subject: msg.subject }, (performance.now() - started) / 1000)
  }

  const done = (async () => {
    for await (const msg of messages) {
      const task = handle(msg).catch((error: unknown) => {
        // handle() decides every fate itself; reaching here is a bug. Leave the
        // message unacked so it is redelivered after ack wait.
        logger.error({ err: error, consumer: durable, seq: msg.seq }, 'message handling crashed')
      })
      active.add(task)
      void task.finally(() => active.delete(task))
      while (active.size >= concurrency) await Promise.race(active)
      if (stopping) break
    }
    await Promise.allSettled(active)
  })()

  logger.info({ stream, consumer: durable, concurrency }, 'consumer started')
  return {
    done,
    inFlight: () => active.size,
    async stop() {
      stopping = true
      await messages.close()
      await done
      logger.info({ consumer: durable }, 'consumer stopped')
    },
  }
}
