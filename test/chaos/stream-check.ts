// Reading the ORDERS stream back, and whether every durable consumer has
// handled everything (nothing pending, nothing waiting for an ack).
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import { STREAMS } from '../../schemas/subjects.ts'
import { waitFor, WaitForTimeoutError } from '../harness/wait-for.ts'
import { sample, type CheckResult } from './report.ts'

export interface SagaEvent {
  seq: number
  subject: string
  orderId: string
  reason?: string
}

/**
 * Every event of the ORDERS stream, in stream order, sequences in `skip` left
 * out (the deadlines' schedules live in DEADLINES, not here).
 */
export async function readSagaEvents(
  js: JetStreamClient,
  jsm: JetStreamManager,
  skip: ReadonlySet<number>,
  timeoutMs: number,
): Promise<SagaEvent[]> {
  const { state } = await jsm.streams.info(STREAMS.orders.name)
  const events: SagaEvent[] = []
  if (state.messages === 0) return events
  const consumer = await js.consumers.get(STREAMS.orders.name)
  let last = 0
  await waitFor(
    async () => {
      if (last >= state.last_seq) return true
      const batch = await consumer.fetch({ max_messages: 1_000, expires: 2_000 })
      for await (const msg of batch) {
        last = msg.seq
        if (skip.has(msg.seq)) continue
        const body = JSON.parse(msg.string()) as { orderId?: unknown; reason?: unknown }
        events.push({
          seq: msg.seq,
          subject: msg.subject,
          orderId: typeof body.orderId === 'string' ? body.orderId : `(no id at #${msg.seq})`,
          ...(typeof body.reason === 'string' ? { reason: body.reason } : {}),
        })
      }
      return last >= state.last_seq
    },
    { timeoutMs, intervalMs: 0, message: `ORDERS read back to #${state.last_seq}` },
  )
  return events
}

/** Every durable consumer of ORDERS has nothing pending and nothing unacknowledged (its backlog, else empty). */
/**
 * Durable consumers the fault suite's stacks do not run a worker for: the
 * provision step creates them, nothing pulls. The analytics worker has its
 * own crash test (test/analytics.test.ts).
 */
export const NOT_IN_CHAOS_STACKS: ReadonlySet<string> = new Set(['analytics'])

export async function consumerBacklog(jsm: JetStreamManager): Promise<string[]> {
  const backlog: string[] = []
  for await (const c of jsm.consumers.list(STREAMS.orders.name)) {
    if (c.config.durable_name === undefined || NOT_IN_CHAOS_STACKS.has(c.name)) continue
    if (c.num_pending > 0 || c.num_ack_pending > 0) {
      backlog.push(`${c.name}: pending ${c.num_pending}, unacked ${c.num_ack_pending}`)
    }
  }
  return backlog
}

export async function checkConsumersDrained(
  jsm: JetStreamManager,
  timeoutMs = 30_000,
): Promise<CheckResult[]> {
  let backlog: string[] = []
  try {
    await waitFor(
      async () => {
        backlog = await consumerBacklog(jsm)
        return backlog.length === 0
      },
      { timeoutMs, intervalMs: 250, message: 'every durable consumer drained' },
    )
  } catch (error) {
    if (!(error instanceof WaitForTimeoutError)) throw error
  }
  return [
    {
      check: 'durable consumers drained',
      ok: backlog.length === 0,
      detail: backlog.length === 0 ? 'nothing pending or unacked' : sample(backlog),
    },
  ]
}
