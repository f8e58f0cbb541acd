import { AsyncLocalStorage } from 'node:async_hooks'
import type { Priority } from '../../schemas/subjects.ts'
import { setLaneYield } from './lane-yield.ts'

/**
 * Express first inside one process. The lanes have their own subjects and
 * consumers, so no standard backlog queues in front of an express message;
 * but a worker running 16 standard messages shares its event loop and its
 * NATS connection with them, and an express message interleaved with them
 * takes as long as they do (docs/priority.md). While express messages are in
 * flight here, standard messages wait before doing work: before their handler
 * starts, before each NATS request their handler makes through the project's
 * stores and publishers (`laneYield()`, lane-yield.ts: a KV write or read, a
 * decision, a schedule, an event), and before they publish what it produced.
 * So the standard messages already inside their handlers pause at their next
 * request too. Each wait is bounded by `maxHoldMs`, so a steady express flow
 * slows the standard lane but never stops it.
 */
export interface LanePriority {
  /** An express message starts; call the returned function when it is done. */
  expressStarted(): () => void
  /** Express messages in flight in this process. */
  expressActive(): number
  /**
   * Resolves once no express message is in flight, or after `maxHoldMs`;
   * `undefined` (nothing to wait for) when none is in flight.
   */
  yieldToExpress(): Promise<void> | undefined
}

export function createLanePriority({ maxHoldMs }: { maxHoldMs: number }): LanePriority {
  let active = 0
  let idle: { promise: Promise<void>; resolve: () => void } | undefined

  function whenIdle(): Promise<void> {
    if (idle === undefined) {
      let resolve: () => void = () => undefined
      const promise = new Promise<void>((r) => (resolve = r))
      idle = { promise, resolve }
    }
    return idle.promise
  }

  return {
    expressStarted() {
      active++
      let ended = false
      return () => {
        if (ended) return
        ended = true
        active--
        if (active === 0 && idle !== undefined) {
          idle.resolve()
          idle = undefined
        }
      }
    },
    expressActive: () => active,
    yieldToExpress() {
      if (active === 0 || maxHoldMs <= 0) return undefined
      let timer: ReturnType<typeof setTimeout> | undefined
      const held = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, maxHoldMs)
      })
      return Promise.race([whenIdle(), held]).finally(() => clearTimeout(timer))
    },
  }
}

/** The lane of the message whose handling runs in this async context. */
const laneOfWork = new AsyncLocalStorage<{ lanes: LanePriority; priority: Priority }>()

setLaneYield(() => {
  const work = laneOfWork.getStore()
  return work?.priority === 'standard' ? work.lanes.yieldToExpress() : undefined
})

/** Runs `handle` (one message's handling) as work of `priority` for `lanes`. */
export function runInLane<T>(lanes: LanePriority, priority: Priority, handle: () => T): T {
  return laneOfWork.run({ lanes, priority }, handle)
}
