/*
 * Gauges read from JetStream when Prometheus scrapes `/metrics` (prom-client
 * `collect`), not on a timer: each worker reports its own durable consumers'
 * backlog, and what waits in the dead-letter queue by original subject.
 * Every worker reports the same DLQ figures (use `max by (subject)`). A
 * scrape whose JetStream request fails or takes longer than `timeoutMs`
 * leaves the series out rather than reporting stale numbers.
 */
import type { JetStreamManager } from '@nats-io/jetstream'
import { STREAMS } from '../../schemas/subjects.ts'
import { DEAD_LETTER_ORIGINS, subjectLabel } from '../observability/labels.ts'
import type { Logger } from '../observability/log.ts'
import { Gauge, type Registry } from '../observability/prom.ts'

export interface NatsGauges {
  /** Reports this durable consumer (of `stream`, ORDERS unless given) from now on. */
  track(durable: string, stream?: string): void
  /** The consumers tracked so far. */
  tracked(): string[]
}

interface Snapshot {
  consumers: { durable: string; pending: number; ackPending: number; redelivered: number }[]
  deadLetters: Map<string, number> | undefined
}

const DLQ_PREFIX = 'dlq.'
/** Subjects kept at 0 once their dead letters are gone; past this many, a purged one vanishes. */
const MAX_DEAD_LETTER_SUBJECTS = 256

export function createNatsGauges({
  jsm,
  registry,
  logger,
  timeoutMs = 2_000,
}: {
  jsm: JetStreamManager
  registry: Registry
  logger: Logger
  timeoutMs?: number
}): NatsGauges {
  /** Durable -> the stream it reads. */
  const durables = new Map<string, string>()
  let last: { at: number; snapshot: Promise<Snapshot> } | undefined

  const within = <T>(work: Promise<T>): Promise<T | undefined> => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<undefined>(
      (resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)),
    )
    return Promise.race([work.catch(() => undefined), late]).finally(() => clearTimeout(timer))
  }

  async function read(): Promise<Snapshot> {
    // All at once: a scrape while NATS is down waits one timeout, not one per lookup.
    const dlqRead = within(jsm.streams.info(STREAMS.deadLetters.name, { subjects_filter: `${DLQ_PREFIX}>` }))
    const consumers = await Promise.all(
      [...durables].map(async ([durable, stream]) => {
        const info = await within(jsm.consumers.info(stream, durable))
        return info === undefined
          ? undefined
          : {
              durable,
              pending: info.num_pending,
              ackPending: info.num_ack_pending,
              redelivered: info.num_redelivered,
            }
      }),
    )
    const dlq = await dlqRead
    let deadLetters: Map<string, number> | undefined
    if (dlq !== undefined) {
      deadLetters = new Map()
      for (const [subject, count] of Object.entries(dlq.state.subjects ?? {})) {
        const label = subjectLabel(subject.slice(DLQ_PREFIX.length))
        deadLetters.set(label, (deadLetters.get(label) ?? 0) + count)
      }
    }
    const missing = consumers.length - consumers.filter((c) => c !== undefined).length
    if (missing > 0 || dlq === undefined)
      logger.debug({ missing, dlq: dlq !== undefined }, 'JetStream figures incomplete for this scrape')
    return { consumers: consumers.flatMap((c) => (c === undefined ? [] : [c])), deadLetters }
  }

  /** One JetStream read per scrape, shared by the gauges of that scrape. */
  const snapshot = (): Promise<Snapshot> => {
    if (last === undefined || Date.now() - last.at > 1_000) last = { at: Date.now(), snapshot: read() }
    return last.snapshot
  }

  const registers = [registry]
  const perConsumer = (
    name: string,
    help: string,
    pick: (c: Snapshot['consumers'][number]) => number,
  ): void => {
    if (registry.getSingleMetric(name) !== undefined) return
    new Gauge({
      name,
      help,
      labelNames: ['consumer'],
      registers,
      async collect() {
        const { consumers } = await snapshot()
        this.reset()
        for (const c of consumers) this.set({ consumer: c.durable }, pick(c))
      },
    })
  }
  perConsumer(
    'consumer_pending_messages',
    "Messages in the stream this worker's durable consumer has not delivered yet (num_pending)",
    (c) => c.pending,
  )
  perConsumer(
    'consumer_ack_pending_messages',
    'Messages delivered to the consumer and not yet acknowledged (num_ack_pending)',
    (c) => c.ackPending,
  )
  perConsumer(
    'consumer_redelivered_messages',
    'Messages delivered more than once and not yet acknowledged (num_redelivered)',
    (c) => c.redelivered,
  )
  if (registry.getSingleMetric('dead_letters_waiting') === undefined) {
    // Every saga subject is a series from the start, and one once seen stays
    // at 0 after a purge rather than vanishing (an alert sees it resolve).
    const seen = new Set<string>(DEAD_LETTER_ORIGINS)
    new Gauge({
      name: 'dead_letters_waiting',
      help: 'Dead letters in the DLQ stream by original subject (the same from every worker: max by subject)',
      labelNames: ['subject'],
      registers,
      async collect() {
        const { deadLetters } = await snapshot()
        this.reset()
        if (deadLetters === undefined) return
        const counts = deadLetters
        for (const subject of counts.keys()) if (seen.size < MAX_DEAD_LETTER_SUBJECTS) seen.add(subject)
        for (const subject of seen) this.set({ subject }, counts.get(subject) ?? 0)
        for (const [subject, count] of counts) if (!seen.has(subject)) this.set({ subject }, count)
      },
    })
  }

  return {
    track: (durable, stream = STREAMS.orders.name) => void durables.set(durable, stream),
    tracked: () => [...durables.keys()],
  }
}
