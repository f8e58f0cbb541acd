/*
 * Several events stored all or none: a JetStream atomic batch (ADR-50,
 * nats-server 2.12+; the stream needs `allow_atomic`). Used to publish one
 * order in two versions during a migration window: a reader can never see
 * one version of an order without the other.
 */
import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core'
import { HEADERS, laneSubject, type Priority } from '../../schemas/subjects.ts'
import type { TraceContext } from '../observability/trace-context.ts'
import { PublishError, toEventHeaders, type OutgoingEvent } from './publish.ts'

/** nats-server's "batch publish contains duplicate message id": the batch was stored before. */
export const BATCH_DUPLICATE_CODE = 10201
/** nats-server's "atomic publish too many inflight": a stream takes 50 open batches at once. */
export const BATCH_TOO_MANY_INFLIGHT_CODE = 10210

export interface BatchEvent {
  event: OutgoingEvent
  /** Extra headers (e.g. `Event-Twin-Version`). */
  headers?: Readonly<Record<string, string>>
}

const encoder = new TextEncoder()

function headersOf(
  { event, headers = {} }: BatchEvent,
  correlationId: string,
  source: string | undefined,
  trace: TraceContext | undefined,
): MsgHdrs {
  const h = toEventHeaders(event, { correlationId, trace, ...(source === undefined ? {} : { source }) })
  h.set(HEADERS.msgId, event.msgId)
  for (const [name, value] of Object.entries(headers)) h.set(name, value)
  return h
}

/** nats-server's answer to a batch message: a zero-byte ack, a pub ack, or an error. */
interface BatchReply {
  error?: { code: number; err_code: number; description: string }
  stream?: string
  seq?: number
  count?: number
}

/** A stored batch message was refused by the server. */
export class BatchRejectedError extends Error {
  override readonly name = 'BatchRejectedError'
  constructor(
    readonly code: number,
    description: string,
  ) {
    super(`nats-server refused the batch: ${description} (${code})`)
  }
}

function replyOf(data: Uint8Array): BatchReply {
  if (data.length === 0) return {}
  return JSON.parse(new TextDecoder().decode(data)) as BatchReply
}

/**
 * Publishes the events as one atomic batch (every message sent as a request,
 * so each refusal is seen at once) and waits for the commit's ack. A batch
 * whose message ids were all stored before (a retry) is not an error: it
 * resolves with `duplicate: true`.
 */
export async function publishAtomically(
  nc: NatsConnection,
  events: readonly BatchEvent[],
  {
    correlationId,
    timeoutMs,
    source,
    priority = 'standard',
    trace,
  }: {
    correlationId: string
    timeoutMs: number
    source?: string
    priority?: Priority
    /** The span the events come from (`traceparent` on every message). */
    trace?: TraceContext | undefined
  },
): Promise<{ duplicate: boolean }> {
  const subject = events[0]?.event.subject ?? ''
  const deadline = Date.now() + timeoutMs
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        return await publishBatchOnce(
          nc,
          events,
          { correlationId, source, priority, trace },
          Math.max(1, deadline - Date.now()),
        )
      } catch (error) {
        // A stream holds 50 open batches at once: a busy one says so at once; wait a little, again.
        const busy = error instanceof BatchRejectedError && error.code === BATCH_TOO_MANY_INFLIGHT_CODE
        const pause = Math.min(100, 2 ** Math.min(attempt, 6)) * (0.5 + Math.random())
        if (!busy || Date.now() + pause >= deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, pause))
      }
    }
  } catch (error) {
    throw new PublishError(`atomic publish to ${subject} failed`, { cause: error })
  }
}

async function publishBatchOnce(
  nc: NatsConnection,
  events: readonly BatchEvent[],
  {
    correlationId,
    source,
    priority,
    trace,
  }: {
    correlationId: string
    source: string | undefined
    priority: Priority
    trace: TraceContext | undefined
  },
  timeoutMs: number,
): Promise<{ duplicate: boolean }> {
  const batchId = crypto.randomUUID()
  for (const [index, e] of events.entries()) {
    const h = headersOf(e, correlationId, source, trace)
    h.set('Nats-Batch-Id', batchId)
    h.set('Nats-Batch-Sequence', String(index + 1))
    if (index === events.length - 1) h.set('Nats-Batch-Commit', '1')
    const data = encoder.encode(JSON.stringify(e.event.payload))
    const subject = laneSubject(e.event.subject, priority)
    const reply = replyOf((await nc.request(subject, data, { headers: h, timeout: timeoutMs })).data)
    if (reply.error !== undefined) {
      if (reply.error.err_code === BATCH_DUPLICATE_CODE) return { duplicate: true }
      throw new BatchRejectedError(reply.error.err_code, reply.error.description)
    }
    if (index === events.length - 1 && reply.count !== events.length)
      throw new BatchRejectedError(
        0,
        `the commit acknowledged ${reply.count ?? 0} of ${events.length} messages`,
      )
  }
  return { duplicate: false }
}
