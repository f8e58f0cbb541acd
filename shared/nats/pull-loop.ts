import { JetStreamError, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream'
import type { Logger } from '../observability/log.ts'

export interface PullLoopOptions {
  /** The durable's name, for logs. */
  name: string
  logger: Logger
  /** The consumer to pull from (the caller gets it first, so a missing one fails its start). */
  consumer: Consumer
  /** Gets the consumer again after recovery. */
  getConsumer: () => Promise<Consumer>
  /** Re-creates what a failed pull may have lost (stream, consumer). */
  reprovision: () => Promise<void>
  /** How long one pull waits for messages (>= 1000). */
  expiresMs: number
  /**
   * Called before each pull: waits as long as the caller needs (bounded by
   * `stopped`) and answers how many messages to ask for; 0 skips the round.
   */
  nextBatchSize: (loop: Pick<PullLoop, 'stopped' | 'isStopping'>) => Promise<number>
  /** Handles one pulled message; awaited before the next one of the batch. */
  onMessage: (msg: JsMsg) => void | Promise<void>
}

export interface PullLoop {
  /** Settles when the loop has ended. */
  done: Promise<void>
  /** Resolves once `stop()` was called: race long waits against it. */
  stopped: Promise<void>
  isStopping: () => boolean
  /** Ends the pull in progress and the loop. */
  stop: () => Promise<void>
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** The pause before pulling again after an answer this loop did not ask for. */
export const FOREIGN_ANSWER_PAUSE_MS = 50

/** How often, at most, the loop logs the answers it did not ask for. */
const FOREIGN_LOG_EVERY_MS = 60_000

/** How often, at most, a limit refusal makes the loop read the consumer's limits again. */
const LIMITS_REFRESH_MS = 5_000

/**
 * The status code of a status that ended a pull but that this loop's own
 * pulls never cause: a 400 (its pulls are well formed), a 409 naming an
 * exceeded request limit (it asks for no more than the consumer's
 * `max_batch` and `max_expires`) or a message over a pull's byte limit (it
 * sets none). nats-server answers where a request's reply subject says, so
 * an identity that learned a pull's inbox (the monitoring port lists
 * subscriptions) can end that pull with a bad pull of its own: the loop
 * pulls again at once, without the backoff a lost server or consumer gets.
 */
function foreignStatus(error: unknown): { code: number; limit: boolean } | undefined {
  // nats.js's JetStreamStatusError, not exported by its package.
  if (!(error instanceof JetStreamError) || error.name !== 'JetStreamStatusError') return undefined
  const code = (error as JetStreamError & { code?: unknown }).code
  if (code === 400) return { code, limit: false }
  if (code === 409 && /^exceeded /i.test(error.message)) return { code, limit: true }
  if (code === 409 && /message size exceeds maxbytes/i.test(error.message)) return { code, limit: false }
  return undefined
}

/**
 * Pulls in short requests and hands each message on. A pull that fails (the
 * server gone, the consumer deleted) is retried with exponential backoff
 * after re-provisioning and getting the consumer again. Used by the message
 * loop every worker runs and by the dead-letter capture.
 */
export function startPullLoop(options: PullLoopOptions): PullLoop {
  const { name, logger, expiresMs } = options
  let consumer = options.consumer
  let stopping = false
  let wakeStop: () => void = () => undefined
  const stopped = new Promise<void>((resolve) => (wakeStop = resolve))
  let batch: ConsumerMessages | undefined
  let foreign = { answers: 0, messages: 0, loggedAt: Number.NEGATIVE_INFINITY }

  // Counted, and logged once a minute at most: each is another identity's doing.
  function noteForeign(kind: 'answers' | 'messages', detail: Record<string, unknown>): void {
    foreign[kind]++
    const now = Date.now()
    if (now - foreign.loggedAt < FOREIGN_LOG_EVERY_MS) return
    logger.warn(
      { consumer: name, answers: foreign.answers, messages: foreign.messages, ...detail },
      'pull answered by another consumer or request; ignored',
    )
    foreign = { answers: 0, messages: 0, loggedAt: now }
  }

  // The first failure of a run is said at warn, the ones after it at debug
  // until a pull succeeds again (said at info): an outage of a minute is two
  // lines per consumer, not two per retry.
  async function recover(failures: number, error: unknown): Promise<void> {
    const delay = Math.min(5_000, 250 * 2 ** Math.min(failures, 5))
    const level = failures === 1 ? 'warn' : 'debug'
    logger[level](
      { err: error, consumer: name, retryInMs: delay, failures },
      'pull failed; recovering the consumer',
    )
    await Promise.race([sleep(delay), stopped])
    if (stopping) return
    try {
      await options.reprovision()
      consumer = await options.getConsumer()
    } catch (recreateError) {
      logger[level]({ err: recreateError, consumer: name }, 'consumer not reachable yet')
    }
  }

  // When the consumer's limits were last read again after a refusal.
  let limitsReadAt = Number.NEGATIVE_INFINITY
  async function readLimitsAgain(): Promise<void> {
    if (Date.now() - limitsReadAt < LIMITS_REFRESH_MS) return
    limitsReadAt = Date.now()
    try {
      await consumer.info()
    } catch (error) {
      logger.debug({ err: error, consumer: name }, "could not read the consumer's limits again")
    }
  }

  const done = (async () => {
    let failures = 0
    while (!stopping) {
      const size = await options.nextBatchSize({ stopped, isStopping: () => stopping })
      if (stopping) break
      if (size <= 0) continue
      try {
        // The consumer's own names (cached, no request): a message of
        // another consumer delivered to this pull's inbox is not handled.
        // Its limits too: a pull never asks for more than the consumer takes
        // (nats-server's own limits set them on every consumer).
        const { stream_name: stream, name: durable, config } = await consumer.info(true)
        const maxBatch = config.max_batch ?? 0
        const maxExpiresMs = (config.max_expires ?? 0) / 1e6
        // nats.js's pulls wait 1 s at least: under that, every pull would be refused.
        if (maxExpiresMs > 0 && maxExpiresMs < 1_000)
          throw new Error(
            `consumer ${durable}'s max_expires (${maxExpiresMs} ms) is under the 1 s a pull waits at least: raise it`,
          )
        batch = await consumer.fetch({
          max_messages: maxBatch > 0 ? Math.min(size, maxBatch) : size,
          expires: Math.max(1_000, maxExpiresMs > 0 ? Math.min(expiresMs, maxExpiresMs) : expiresMs),
        })
        for await (const msg of batch) {
          if (msg.info.stream === stream && msg.info.consumer === durable) await options.onMessage(msg)
          else noteForeign('messages', { from: `${msg.info.stream}/${msg.info.consumer}` })
        }
        const closed = await batch.closed()
        if (closed instanceof Error) throw closed
        if (failures > 0) logger.info({ consumer: name, failures }, 'pulling again')
        failures = 0
      } catch (error) {
        if (stopping) break
        const status = foreignStatus(error)
        if (status !== undefined) {
          noteForeign('answers', { status: status.code, reason: (error as Error).message })
          // A limit lowered since the loop read it would refuse every pull: read it again.
          if (status.limit) await readLimitsAgain()
          await Promise.race([sleep(FOREIGN_ANSWER_PAUSE_MS), stopped])
          continue
        }
        failures++
        await recover(failures, error)
      } finally {
        batch = undefined
      }
    }
  })()

  return {
    done,
    stopped,
    isStopping: () => stopping,
    stop: async () => {
      stopping = true
      wakeStop()
      await batch?.close()
      await done
    },
  }
}
