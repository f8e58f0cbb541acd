/*
 * What waits in the dead-letter queue by the consumer that gave up on it and
 * why: `dead_letters_waiting_by_consumer{consumer, reason}`, read from the
 * dead letters' own headers (`Dlq-Consumer`, `Dlq-Reason`) when Prometheus
 * scrapes the console. The console is the service that may read dead letters
 * (the workers see only the DLQ stream's subject counts, which is what
 * `dead_letters_waiting{subject}` reports); reading them is one ordered
 * consumer over at most `limit` dead letters, bounded by `timeoutMs`. A
 * listing serves the scrapes of the next {@link DEAD_LETTER_GAUGE_FRESH_MS}:
 * `/metrics` needs no key, and a scrape must not cost a read of the queue.
 */
import { SAGA_CONSUMER_NAMES } from '../../shared/nats/saga-consumers.ts'
import type { DeadLetterSummary } from '../../shared/nats/dead-letter-admin.ts'
import { DEAD_LETTER_REASON_LABELS, deadLetterReasonLabel, OTHER } from '../../shared/observability/labels.ts'
import type { Logger } from '../../shared/observability/log.ts'
import { Gauge, type Registry } from '../../shared/observability/prom.ts'
import { withDeadline } from '../../shared/resilience/deadline.ts'

export const DEAD_LETTERS_BY_CONSUMER = 'dead_letters_waiting_by_consumer'

/** How long one listing of the queue answers scrapes (Prometheus scrapes every 15 s by default). */
export const DEAD_LETTER_GAUGE_FRESH_MS = 5_000

/** Label pairs kept at 0 once their dead letters are gone; past this many, a gone one vanishes. */
const MAX_PAIRS = 256
const KNOWN_CONSUMERS: ReadonlySet<string> = new Set(SAGA_CONSUMER_NAMES)

export function registerDeadLetterGauge({
  registry,
  list,
  logger,
  timeoutMs,
  freshMs = DEAD_LETTER_GAUGE_FRESH_MS,
}: {
  registry: Registry
  /** Every dead letter waiting (the console's DLQ listing). */
  list: () => Promise<readonly DeadLetterSummary[]>
  logger: Logger
  timeoutMs: number
  freshMs?: number
}): void {
  if (registry.getSingleMetric(DEAD_LETTERS_BY_CONSUMER) !== undefined) return
  const seen = new Map<string, { consumer: string; reason: string }>()
  /** One listing at a time: a scrape while one is still reading (past its deadline) waits for it. */
  let listing: Promise<readonly DeadLetterSummary[] | undefined> | undefined
  /** The last listing, or its failure (undefined): a failing read is not tried again at every scrape either. */
  let last: { at: number; letters: readonly DeadLetterSummary[] | undefined } | undefined
  const listOnce = () => {
    if (last !== undefined && Date.now() - last.at < freshMs) return Promise.resolve(last.letters)
    return (listing ??= list()
      .catch((error: unknown) => {
        logger.debug({ err: error }, 'dead letters not readable for this scrape')
        return undefined
      })
      .then((letters) => {
        last = { at: Date.now(), letters }
        return letters
      })
      .finally(() => (listing = undefined)))
  }
  new Gauge({
    name: DEAD_LETTERS_BY_CONSUMER,
    help: `Dead letters waiting in the DLQ stream by the consumer that dead-lettered them and why (${[...DEAD_LETTER_REASON_LABELS, OTHER].join(', ')})`,
    labelNames: ['consumer', 'reason'],
    registers: [registry],
    async collect() {
      const letters = await withDeadline(listOnce(), timeoutMs, () => new Error('late')).catch(
        () => undefined,
      )
      this.reset()
      // Unreadable or late: the series are left out rather than stale.
      if (letters === undefined) return
      const counts = new Map<string, number>()
      for (const letter of letters) {
        const consumer =
          letter.consumer !== null && KNOWN_CONSUMERS.has(letter.consumer) ? letter.consumer : OTHER
        const reason = deadLetterReasonLabel(letter.reason)
        const key = `${consumer}\u0000${reason}`
        if (!seen.has(key) && seen.size < MAX_PAIRS) seen.set(key, { consumer, reason })
        counts.set(key, (counts.get(key) ?? 0) + 1)
      }
      for (const [key, labels] of seen) this.set(labels, counts.get(key) ?? 0)
      for (const [key, count] of counts) {
        if (seen.has(key)) continue
        const [consumer = OTHER, reason = OTHER] = key.split('\u0000')
        this.set({ consumer, reason }, count)
      }
    },
  })
}
