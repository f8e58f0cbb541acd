import type { JetStreamClient, JsMsg } from '@nats-io/jetstream'
import * as v from 'valibot'
import { EVENT_SCHEMAS, EVENT_VERSIONS, type EventOf } from '../../schemas/events.ts'
import { HEADERS, splitLane, type Priority, type Subject } from '../../schemas/subjects.ts'
import type { Logger } from '../observability/logger.ts'
import { boundLabels, DEAD_LETTER_REASON_LABELS } from '../observability/labels.ts'
import type { Metrics } from '../observability/metrics.ts'
import { readTraceHeaders, traceLogFields, type TraceContext } from '../observability/trace-context.ts'
import { createPropagatingTracer, type Tracer } from '../observability/tracing.ts'
import type { Gate } from '../resilience/gate.ts'
import { deadLetter, type PoisonReason } from './dead-letter.ts'
import { CE_HEADERS, toEventType } from './cloudevents.ts'
import { notPublishedMarker } from './not-published.ts'
import { isNatsUnavailable } from './errors.ts'
import { runInLane, type LanePriority } from './lane-priority.ts'
import type { LaneSignals } from './lane-signals.ts'
import { ID_TAKEN, publishEvent, type OutgoingEvent } from './publish.ts'
import { jsonErrorDetail, schemaIssuesDetail } from './poison-detail.ts'
import { startPullLoop } from './pull-loop.ts'
import { SCHEDULE_HEADERS } from './schedule.ts'

export interface MessageContext {
  correlationId: string
  /** The order's lane (from the message's subject); what it produces goes in the same lane. */
  priority: Priority
  deliveryCount: number
  /** The message's stream sequence, for handlers that record what they applied (analytics). */
  streamSequence?: number
  /**
   * When the stream stored the message (epoch ms, nats-server's clock): a
   * bound on times the publisher wrote into the event, which nothing else
   * checks (shared/saga/decision.ts, `orderCreatedAt`).
   */
  storedAt?: number
  /** Messages the consumer still had for its clients after this one when it was delivered (0: caught up). */
  pending?: number
  /**
   * This delivery's span (a child of the message's `traceparent`): the
   * events the handler returns carry it, and so should its outgoing calls.
   */
  trace?: TraceContext
  logger: Logger
}

/** Handles one event and returns the events it produced; the runner publishes them, then acks. */
export type Handler<S extends Subject> = (
  event: EventOf<S>,
  ctx: MessageContext,
) => Promise<readonly OutgoingEvent[]>

export type Handlers = { [S in Subject]?: Handler<S> }

/**
 * Thrown by a handler whose dependency is down (an open circuit breaker):
 * the message is kept (no nak, no delivery burnt) and handled again once the
 * consumer's gate is open and `retryAfterMs` has passed.
 */
export class PauseConsumption extends Error {
  override readonly name = 'PauseConsumption'
  constructor(
    message: string,
    readonly retryAfterMs = 250,
    /**
     * When to handle the message again even if the gate is still closed
     * (epoch ms): the handler's own bound on how long it is held (the
     * payment worker's PAYMENT_MAX_PAUSE_MS, the order's deadline). Without
     * it the message waits for the gate.
     */
    readonly resumeAt?: number,
  ) {
    super(message)
  }
}

export interface ConsumerOptions {
  js: JetStreamClient
  logger: Logger
  metrics: Metrics
  /** A span per delivery; propagation only when not given. */
  tracer?: Tracer
  stream: string
  durable: string
  handlers: Handlers
  /** Messages handled at once; never more are pulled. */
  concurrency: number
  /** Must match the consumer's `max_deliver`: the last delivery dead-letters instead of nak. */
  maxDeliver: number
  /** Must match the consumer's `ack_wait`: long handlers send `working()` before it runs out. */
  ackWaitMs: number
  publishTimeoutMs: number
  /** The identity's own secret (NatsRuntime.idKey): its dead-letter ids and fresh event ids. */
  idKey?: Uint8Array
  /** CloudEvents `source` of the events the handlers produce (`toEventSource(service)`). */
  source?: string
  /**
   * Stripped from a message's subject to find its event's subject: the
   * deadline relay reads `deadlines.fired.orders.cancel_requested[.express]`.
   */
  subjectPrefix?: string
  /** Re-creates the durable consumer if it was lost (deleted, or a server without its state). */
  ensureConsumer: () => Promise<void>
  /** While closed, nothing is pulled. */
  gate?: Gate
  /**
   * Shared by the process's consumers: standard messages wait (bounded) while
   * express ones are in flight (lane-priority.ts).
   */
  lanes?: LanePriority
  /** Announces each express order whose message starts here, so every worker holds for it (lane-signals.ts). */
  laneSignals?: Pick<LaneSignals, 'open'>
  /** Delay before redelivery after the n-th failed delivery. */
  nakDelayMs?: (deliveryCount: number) => number
  /** How long one pull waits for messages (>= 1000). */
  pullExpiresMs?: number
  /**
   * What to do with a version 1 copy of an event whose twin (`Event-Twin-Version`)
   * this code reads. `fallback` (default): hold it for {@link TWIN_DEFER_MS},
   * then ack it if this process handled its twin, or else handle it like any
   * delivery (handlers are idempotent per order), so
   * the order is handled even when its twin went to an instance of the
   * previous release sharing this durable consumer, which acks and skips a
   * version it does not read. `skip`: ack it at once; only for a consumer
   * that alone reads every message of its subjects (analytics), which is
   * always handed the twin too.
   */
  twinCopies?: 'fallback' | 'skip'
  /**
   * How long a message is held and retried while NATS itself is unavailable
   * (leader election, disconnect) before it is nak'd like any failure.
   */
  unavailableRetryMs?: number
}

export interface RunningConsumer {
  /** Stops pulling, lets in-flight messages finish (ack/nak), then resolves. */
  stop(): Promise<void>
  /** Settles when the message loop ends. */
  done: Promise<void>
  inFlight(): number
}

/** Several consumers (a worker's lanes) as one: stopped together, done when all are. */
export function combineConsumers(consumers: readonly RunningConsumer[]): RunningConsumer {
  return {
    stop: async () => {
      await Promise.all(consumers.map((c) => c.stop()))
    },
    done: Promise.all(consumers.map((c) => c.done)).then(() => undefined),
    inFlight: () => consumers.reduce((sum, c) => sum + c.inFlight(), 0),
  }
}

export function defaultNakDelay(deliveryCount: number): number {
  const base = Math.min(30_000, 500 * 2 ** Math.max(0, deliveryCount - 1))
  return Math.round(base / 2 + Math.random() * (base / 2))
}

/**
 * How long a version 1 copy waits before it is handled as a fallback for its
 * twin ({@link ConsumerOptions.twinCopies}). Its twin is the next message of
 * the same atomic batch, so it is usually handled well within this; if not,
 * the copy's handling finds the order taken (busy) or decided, as any
 * redelivery would. Short, because each held copy counts against the
 * consumer's max ack pending.
 */
export const TWIN_DEFER_MS = 1_000

/** Orders a message loop remembers having handled in a twinned version (see `noteHandled`). */
const TWINS_REMEMBERED = 10_000

/**
 * Messages this consumer is right not to handle, acked and counted:
 * - a schedule held by the stream (an order deadline): not an event; the
 *   server publishes its event when due;
 * - an event in a version this code does not read (`Event-Version`): a newer
 *   producer's, published beside the version this code reads during a
 *   migration (docs/contracts.md). Dead-lettering it would fill the DLQ with
 *   every order of the migration window;
 * - an event published beside a twin in a version this code also reads
 *   (`Event-Twin-Version`): acked when this process handled its twin, or
 *   with `twinCopies: 'skip'` (the twin is handled, so each order is once);
 *   otherwise held (`defer`) on its first delivery and handled when it comes
 *   back.
 */
function skipReason(
  msg: JsMsg,
  eventSubject: string,
  twinCopies: 'fallback' | 'skip',
  maxDeliver: number,
  twinHandledHere: (subject: string, msg: JsMsg) => boolean,
): { label: string; reason: string; defer?: true } | undefined {
  if (msg.headers?.has(SCHEDULE_HEADERS.schedule) === true)
    return { label: 'schedule', reason: 'a schedule, not an event' }
  const subject = splitLane(eventSubject).subject as Subject
  const given = msg.headers?.get(HEADERS.eventVersion)
  if (!(subject in EVENT_VERSIONS) || given === undefined || given === '') return undefined
  const version = Number(given)
  if (Number.isInteger(version) && !EVENT_VERSIONS[subject].includes(version))
    return { label: msg.subject, reason: `${msg.subject} version ${version} is not read by this version` }
  const twin = Number(msg.headers?.get(HEADERS.twinVersion) || Number.NaN)
  if (!Number.isInteger(twin) || twin === version || !EVENT_VERSIONS[subject].includes(twin)) return undefined
  if (twinCopies === 'skip')
    return { label: msg.subject, reason: `its version ${twin} twin is handled instead` }
  if (twinHandledHere(subject, msg))
    return { label: msg.subject, reason: `its version ${twin} twin was handled by this process` }
  // Handled on a redelivery: by then its twin was handled, or was skipped by
  // a reader of the previous release, and this copy is all the order has.
  // The hold spends a delivery: with fewer than three, the copy would be left
  // one attempt or none before it is dead-lettered, so it is handled now.
  if (msg.info.deliveryCount === 1 && maxDeliver > 2)
    return { label: msg.subject, reason: `held for its version ${twin} twin`, defer: true }
  return undefined
}

type Parsed =
  { ok: true; subject: Subject; event: unknown } | { ok: false; reason: PoisonReason; detail: string }

function parseMessage(msg: JsMsg, eventSubject: string, handlers: Handlers): Parsed {
  // An express order's event is read like any other of its subject.
  const subject = splitLane(eventSubject).subject as Subject
  if (!(subject in EVENT_SCHEMAS) || handlers[subject] === undefined) {
    return { ok: false, reason: 'unexpected_subject', detail: `no handler for ${msg.subject}` }
  }
  const marker = notPublishedMarker(msg.headers)
  if (marker !== undefined) {
    return {
      ok: false,
      reason: 'unexpected_origin',
      detail: `a stored copy, not a published event (${marker}: ${msg.headers?.get(marker) ?? ''})`,
    }
  }
  let raw: unknown
  try {
    raw = JSON.parse(msg.string())
  } catch (error) {
    return { ok: false, reason: 'malformed_json', detail: jsonErrorDetail(error, msg.data.length) }
  }
  const result = v.safeParse(EVENT_SCHEMAS[subject], raw)
  if (!result.success) {
    return { ok: false, reason: 'schema_violation', detail: schemaIssuesDetail(result.issues) }
  }
  // Every event a service publishes carries its correlation id and version
  // (publish.ts, and every release before); a direct get asked with `no_hdr`
  // answers with none, and a dead letter of such a message replayed gains
  // only a message id.
  const h = msg.headers
  if (h === undefined || !h.has(HEADERS.correlationId) || !h.has(HEADERS.eventVersion)) {
    return {
      ok: false,
      reason: 'unexpected_origin',
      detail: `an event without ${HEADERS.correlationId} and ${HEADERS.eventVersion}: not a published event`,
    }
  }
  // Its CloudEvents type names the subject and version it was published as:
  // a stored event of another type put on this subject (whose body happens to
  // pass this schema too) is not this event.
  const type = h.get(CE_HEADERS.type)
  const version = (result.output as { version: number }).version
  if (type !== '' && type !== toEventType(subject, version)) {
    return {
      ok: false,
      reason: 'unexpected_origin',
      detail: `its ce-type ${type} is not ${subject} version ${version}: published as another event`,
    }
  }
  return { ok: true, subject, event: result.output }
}

/** A message's event subject (lane suffix included) and, split from it, the event and its lane. */
interface Lane {
  subject: string
  priority: Priority
  eventSubject: string
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * The one message loop every worker uses. It pulls only as many messages as
 * it has free slots (so a closed gate pulls nothing), and decides each
 * message's fate in one place: poison (bad JSON, schema violation) -> dead
 * letter + `term`, no retry; `PauseConsumption` -> wait for the gate, then
 * again; other handler error -> `nak` with backoff, or dead letter on the last
 * delivery; success -> publish the produced events, then `ack`. A pull that
 * fails (server gone, consumer deleted) is retried with backoff after
 * re-creating the consumer.
 */
export async function startConsumer(options: ConsumerOptions): Promise<RunningConsumer> {
  const { js, logger, metrics, stream, durable, handlers, concurrency, maxDeliver, ackWaitMs, gate, lanes } =
    options
  const tracer = options.tracer ?? createPropagatingTracer()
  const nakDelay = options.nakDelayMs ?? defaultNakDelay
  const unavailableRetryMs = options.unavailableRetryMs ?? 60_000
  const active = new Set<Promise<void>>()
  const consumer = await js.consumers.get(stream, durable)
  // Each reason's series exists from the start at 0, so `increase()` sees the first dead letter.
  for (const reason of DEAD_LETTER_REASON_LABELS) metrics.deadLetters.inc({ consumer: durable, reason }, 0)
  // One timer for the consumer, not one per message: a message handled for a
  // tick or more is told `working()` at every tick, the first time within a
  // third of the ack wait.
  const tickMs = Math.max(250, ackWaitMs / 6)
  const handling = new Map<JsMsg, number>()
  const heartbeat = setInterval(() => {
    const due = performance.now() - tickMs
    for (const [msg, since] of handling) if (since <= due) msg.working()
  }, tickMs)
  heartbeat.unref?.()
  // Orders whose event this loop handled in a version that has twins
  // (orders.created v2), by subject and order id (`ce-subject`): a version 1
  // copy of theirs coming back after its hold is acked without its handler.
  // Bounded; a copy whose order fell out (or went to another instance) is
  // handled, which its handler's idempotency makes harmless.
  const twinsHandled = new Set<string>()
  // Nothing is remembered before the first version 1 copy comes (the window
  // opened): outside a migration window the set stays empty.
  let twinsSeen = false
  const twinKey = (subject: string, msg: JsMsg) => {
    const orderId = msg.headers?.get(CE_HEADERS.subject)
    return orderId === undefined || orderId === '' ? undefined : `${subject} ${orderId}`
  }
  const twinHandledHere = (subject: string, msg: JsMsg) => {
    twinsSeen = true
    const key = twinKey(subject, msg)
    return key !== undefined && twinsHandled.has(key)
  }
  function noteHandled(msg: JsMsg, eventSubject: string) {
    if (!twinsSeen) return
    const subject = splitLane(eventSubject).subject as Subject
    if (!(subject in EVENT_VERSIONS) || EVENT_VERSIONS[subject].length < 2) return
    if (msg.headers?.has(HEADERS.twinVersion) === true) return
    const key = twinKey(subject, msg)
    if (key === undefined) return
    twinsHandled.add(key)
    if (twinsHandled.size > TWINS_REMEMBERED) {
      const oldest = twinsHandled.values().next().value
      if (oldest !== undefined) twinsHandled.delete(oldest)
    }
  }
  // The per-subject metric series, bound once (prom-client hashes a label set on every call).
  const series = new Map<string, ReturnType<typeof bindSeries>>()
  function bindSeries(subject: string) {
    return {
      lag: metrics.messageLag.labels(boundLabels({ consumer: durable, subject })),
      duration: metrics.messageDuration.labels(boundLabels({ consumer: durable, subject })),
      acked: metrics.messagesHandled.labels(boundLabels({ consumer: durable, subject, outcome: 'ack' })),
    }
  }
  function seriesOf(subject: string) {
    let bound = series.get(subject)
    if (bound === undefined) {
      bound = bindSeries(subject)
      if (series.size < 256) series.set(subject, bound)
    }
    return bound
  }

  /**
   * Runs the handler and publishes what it produced. Waits (keeping the ack
   * wait alive) instead of failing while a dependency is down: the gate's
   * dependency (PauseConsumption), or NATS itself (an election, a disconnect),
   * so those never spend the message's deliveries. Handlers are idempotent, so
   * running one again after a partial attempt is safe.
   */
  async function runHandler(
    subject: Subject,
    event: unknown,
    ctx: MessageContext,
  ): Promise<readonly OutgoingEvent[]> {
    const handler = handlers[subject] as Handler<Subject>
    const unavailableSince = { at: 0 }
    for (let attempt = 1; ; attempt++) {
      try {
        const produced = await handler(event as EventOf<Subject>, ctx)
        // A standard message's events wait for the express work in flight
        // here inside publishEvent (laneYield), like its handler's requests.
        for (const outgoing of produced) {
          const ack = await publishEvent(js, outgoing, {
            correlationId: ctx.correlationId,
            priority: ctx.priority,
            trace: ctx.trace,
            timeoutMs: options.publishTimeoutMs,
            ...(options.source === undefined ? {} : { source: options.source }),
            onIdTaken: (taken) => ctx.logger.error({ event: outgoing.subject, ...taken }, ID_TAKEN),
            idKey: options.idKey,
          })
          // A redelivery's event the stream already holds is not published again.
          if (!ack.duplicate) metrics.eventsPublished.inc({ subject: outgoing.subject })
        }
        return produced
      } catch (error) {
        if (loop.isStopping()) throw error
        if (error instanceof PauseConsumption) {
          ctx.logger.info({ reason: error.message }, 'holding the message; will handle it again shortly')
          // Until the gate opens, or the handler's own bound comes (it then decides the message).
          const { resumeAt, retryAfterMs } = error
          let timer: ReturnType<typeof setTimeout> | undefined
          const due =
            resumeAt === undefined
              ? []
              : [
                  new Promise<void>((resolve) => {
                    timer = setTimeout(resolve, Math.max(retryAfterMs, resumeAt - Date.now()))
                  }),
                ]
          await Promise.race([Promise.all([gate?.whenOpen(), sleep(retryAfterMs)]), ...due, loop.stopped])
          clearTimeout(timer)
          continue
        }
        if (!isNatsUnavailable(error)) throw error
        unavailableSince.at ||= Date.now()
        if (Date.now() - unavailableSince.at > unavailableRetryMs) throw error
        const delay = Math.min(2_000, 100 * 2 ** Math.min(attempt, 5))
        ctx.logger.warn(
          { err: error, retryInMs: delay },
          'NATS unavailable; holding the message and retrying',
        )
        await Promise.race([sleep(delay), loop.stopped])
      }
    }
  }

  async function handle(msg: JsMsg, lane: Lane): Promise<void> {
    const started = performance.now()
    const correlationId = msg.headers?.get(HEADERS.correlationId) || 'none'
    const deliveryCount = msg.info.deliveryCount
    const base = { consumer: durable, subject: msg.subject, seq: msg.seq, deliveryCount, correlationId }
    let outcome = 'ack'
    const skip = skipReason(
      msg,
      lane.eventSubject,
      options.twinCopies ?? 'fallback',
      maxDeliver,
      twinHandledHere,
    )
    if (skip?.defer === true) {
      msg.nak(TWIN_DEFER_MS)
      metrics.messagesHandled.inc({ consumer: durable, subject: skip.label, outcome: 'deferred' })
      logger.debug({ ...base, reason: skip.reason }, 'message deferred')
      return
    }
    if (skip !== undefined) {
      msg.ack()
      metrics.messagesHandled.inc({ consumer: durable, subject: skip.label, outcome: 'skipped' })
      logger.debug({ ...base, reason: skip.reason }, 'message skipped')
      return
    }
    // Each step's wait: stored in the stream -> handled here (the first delivery's wait, and redeliveries').
    const bound = seriesOf(msg.subject)
    bound.lag.observe(Math.max(0, Date.now() - msg.info.timestampNanos / 1e6) / 1000)
    if (lane.priority === 'standard') await lanes?.yieldToExpress()
    const parsed = parseMessage(msg, lane.eventSubject, handlers)
    // One span per delivery, a child of the span that published the message.
    const span = tracer.startSpan(`process ${lane.subject}`, {
      kind: 'consumer',
      parent: readTraceHeaders((name) => msg.headers?.get(name)),
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'process',
        'messaging.destination.name': msg.subject,
        'messaging.consumer.group.name': durable,
        'messaging.nats.stream.sequence': msg.seq,
        'messaging.nats.delivery_count': deliveryCount,
        'order.correlation_id': correlationId,
      },
    })
    // dead-letter.ts names the consumer, subject, sequence and reason itself.
    const deadLetterLog = (orderId?: string) =>
      logger.child({
        deliveryCount,
        correlationId,
        ...(orderId === undefined ? {} : { orderId }),
        ...traceLogFields(span.context),
      })
    if (!parsed.ok) {
      const stored = await deadLetter(
        js,
        msg,
        parsed.reason,
        parsed.detail,
        durable,
        deadLetterLog(),
        options.publishTimeoutMs,
        options.idKey,
      )
      outcome = stored ? 'dead_letter' : 'nak'
      if (stored) metrics.deadLetters.inc({ consumer: durable, reason: parsed.reason })
    } else {
      const orderId = (parsed.event as { orderId?: string }).orderId
      if (lane.priority === 'express' && orderId !== undefined) options.laneSignals?.open(orderId)
      span.setAttributes({ 'order.id': orderId })
      const log = logger.child({ ...base, orderId, ...traceLogFields(span.context) })
      try {
        const produced = await runHandler(parsed.subject, parsed.event, {
          correlationId,
          priority: lane.priority,
          deliveryCount,
          streamSequence: msg.seq,
          storedAt: Math.floor(msg.info.timestampNanos / 1e6),
          pending: msg.info.pending,
          trace: span.context,
          logger: log,
        })
        msg.ack()
        noteHandled(msg, lane.eventSubject)
        log.debug({ produced: produced.map((e) => e.subject) }, 'message handled')
      } catch (error) {
        span.fail(error)
        if (error instanceof PauseConsumption) {
          // Shutting down while the dependency is down: hand it back promptly.
          msg.nak(0)
          outcome = 'nak'
        } else if (deliveryCount >= maxDeliver) {
          log.error({ err: error }, 'message failed on its last delivery; dead-lettering')
          const detail = error instanceof Error ? error.message : String(error)
          const stored = await deadLetter(
            js,
            msg,
            'max_deliver_exhausted',
            detail,
            durable,
            deadLetterLog(orderId),
            options.publishTimeoutMs,
            options.idKey,
          )
          outcome = stored ? 'dead_letter' : 'nak'
          if (stored) metrics.deadLetters.inc({ consumer: durable, reason: 'max_deliver_exhausted' })
        } else {
          const delay = nakDelay(deliveryCount)
          log.warn({ err: error, retryInMs: delay }, 'message failed; will be redelivered')
          msg.nak(delay)
          outcome = 'nak'
        }
      }
    }
    span.setAttributes({ 'messaging.nats.outcome': outcome })
    span.end()
    if (outcome === 'ack') bound.acked.inc()
    else metrics.messagesHandled.inc({ consumer: durable, subject: msg.subject, outcome })
    bound.duration.observe((performance.now() - started) / 1000)
  }

  const prefix = options.subjectPrefix
  function launch(msg: JsMsg): void {
    const eventSubject =
      prefix !== undefined && msg.subject.startsWith(prefix) ? msg.subject.slice(prefix.length) : msg.subject
    const lane: Lane = { ...splitLane(eventSubject), eventSubject }
    // An express message counts from the moment it is here until its fate is
    // decided; every message is kept alive (heartbeat) until then.
    const expressDone = lane.priority === 'express' ? lanes?.expressStarted() : undefined
    handling.set(msg, performance.now())
    const task = (
      lanes === undefined ? handle(msg, lane) : runInLane(lanes, lane.priority, () => handle(msg, lane))
    )
      .catch((error: unknown) => {
        // handle() decides every fate itself; reaching here is a bug. The
        // message stays unacked and is redelivered after the ack wait.
        logger.error({ err: error, consumer: durable, seq: msg.seq }, 'message handling crashed')
      })
      .finally(() => {
        handling.delete(msg)
        expressDone?.()
      })
    active.add(task)
    void task.finally(() => active.delete(task))
  }

  // Handlers run only for pulled messages, so always after `loop` is set.
  const loop = startPullLoop({
    name: durable,
    logger,
    consumer,
    getConsumer: () => js.consumers.get(stream, durable),
    reprovision: options.ensureConsumer,
    expiresMs: options.pullExpiresMs ?? 5_000,
    // Never more than the free slots: a message that arrives after the gate
    // closed waits in its handler instead of being pulled and dropped.
    nextBatchSize: async ({ stopped, isStopping }) => {
      if (gate !== undefined && !gate.isOpen()) {
        logger.warn({ consumer: durable }, 'consumption paused')
        await Promise.race([gate.whenOpen(), stopped])
        if (!isStopping()) logger.info({ consumer: durable }, 'consumption resumed')
        return 0
      }
      if (active.size >= concurrency) {
        await Promise.race([...active, stopped])
        return 0
      }
      return concurrency - active.size
    },
    onMessage: launch,
  })
  const done = loop.done.then(async () => {
    await Promise.allSettled(active)
    clearInterval(heartbeat)
  })

  logger.info({ stream, consumer: durable, concurrency }, 'consumer started')
  return {
    done,
    inFlight: () => active.size,
    async stop() {
      await loop.stop()
      await done
      logger.info({ consumer: durable }, 'consumer stopped')
    },
  }
}
