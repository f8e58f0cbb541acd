/*
 * The live consumer's handlers: every event the `analytics` consumer
 * delivers (one at a time, in stream order) is recorded on its order and
 * added to its window of the active generation; the window it changed goes
 * to the stream clients. A delivery of an event already applied changes
 * nothing (see store.ts and docs/analytics.md).
 */
import { SUBJECTS } from '../../schemas/subjects.ts'
import { PauseConsumption, type Handler, type Handlers } from '../../shared/nats/consumer.ts'
import type { AnalyticsMetrics } from './analytics-metrics.ts'
import { toAnalyticsEvent, type AnalyticsEvent, type AnalyticsSubject } from './domain.ts'
import type { WindowFeed } from './feed.ts'
import type { AnalyticsStore } from './store.ts'
import { toWindowView } from './summary.ts'

/** Top skus in a streamed window update. */
export const STREAM_TOP_SKUS = 10

/** `pending`: events the consumer still held after this one (0: caught up); unknown in a replay. */
export type ApplyEvent = (event: AnalyticsEvent, seq: number, pending?: number) => Promise<void>

export function createLiveApplier({
  store,
  generation,
  metrics,
  feed,
  stillActive,
}: {
  store: Pick<AnalyticsStore, 'record' | 'apply'>
  generation: string
  metrics: AnalyticsMetrics
  feed: Pick<WindowFeed, 'publish'>
  /**
   * Whether `generation` is still the active one (read at most once a
   * second). Once it is not, no event is applied to it: each is handed back
   * unacked, for a process of the active generation (PauseConsumption; the
   * service stops its consumer).
   */
  stillActive?: () => Promise<boolean>
}): ApplyEvent {
  return async (event, seq, pending) => {
    if (stillActive !== undefined && !(await stillActive()))
      throw new PauseConsumption(
        `generation ${generation} is no longer the active one: event handed back`,
        1_000,
      )
    // In stream order, one at a time (the consumer's max_ack_pending is 1): the
    // event in hand until both its writes are done, then where the consumer is.
    if (pending !== undefined) metrics.handling(event)
    const done = () => {
      if (pending !== undefined) metrics.behind(event, pending)
    }
    const contribution = await store.record(event, seq)
    if (contribution === null) {
      done()
      return metrics.skipped(event, 'repeated')
    }
    const window = await store.apply(generation, contribution, seq)
    done()
    if (window === null) return metrics.skipped(event, 'redelivered')
    metrics.applied(event, contribution, seq)
    feed.publish(toWindowView(window, STREAM_TOP_SKUS))
  }
}

/** A bug, not a fault: the consumer loop always passes the message's stream sequence. */
export class MissingSequenceError extends Error {
  override readonly name = 'MissingSequenceError'
}

export function createAnalyticsHandlers(apply: ApplyEvent): Handlers {
  const handle =
    <S extends AnalyticsSubject>(subject: S): Handler<S> =>
    async (event, ctx) => {
      if (ctx.streamSequence === undefined) throw new MissingSequenceError('no stream sequence for the event')
      await apply(toAnalyticsEvent(subject, event), ctx.streamSequence, ctx.pending)
      return []
    }
  return {
    [SUBJECTS.orderCreated]: handle(SUBJECTS.orderCreated),
    [SUBJECTS.paymentCompleted]: handle(SUBJECTS.paymentCompleted),
    [SUBJECTS.paymentFailed]: handle(SUBJECTS.paymentFailed),
    [SUBJECTS.orderCancelled]: handle(SUBJECTS.orderCancelled),
    [SUBJECTS.paymentRefunded]: handle(SUBJECTS.paymentRefunded),
  }
}
