import type { Consumer, ConsumerMessages, JsMsg } from '@nats-io/jetstream'
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

  async function recover(failures: number, error: unknown): Promise<void> {
    const delay = Math.min(5_000, 250 * 2 ** Math.min(failures, 5))
    logger.warn({ err: error, consumer: name, retryInMs: delay }, 'pull failed; recovering the consumer')
    await Promise.race([sleep(delay), stopped])
    if (stopping) return
    try {
      await options.reprovision()
      consumer = await options.getConsumer()
    } catch (recreateError) {
      logger.warn({ err: recreateError, consumer: name }, 'consumer not reachable yet')
    }
  }

  const done = (async () => {
    let failures = 0
    while (!stopping) {
      const size = await options.nextBatchSize({ stopped, isStopping: () => stopping })
      if (stopping) break
      if (size <= 0) continue
      try {
        batch = await consumer.fetch({ max_messages: size, expires: Math.max(1_000, expiresMs) })
        for await (const msg of batch) await options.onMessage(msg)
        const closed = await batch.closed()
        if (closed instanceof Error) throw closed
        failures = 0
      } catch (error) {
        if (stopping) break
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
