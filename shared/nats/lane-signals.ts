import type { NatsConnection, Subscription } from '@nats-io/nats-core'
import * as v from 'valibot'
import { OrderIdSchema } from '../../schemas/primitives.ts'
import type { Logger } from '../observability/logger.ts'
import type { LanePriority } from './lane-priority.ts'

/**
 * Express first across processes. The yield of lane-priority.ts holds a
 * process's standard work while an express message is in flight *there*;
 * but an express order's hops run in four processes, and while one of them
 * handles it, the others' standard work takes the cores and nats-server's
 * time (docs/priority.md, "Across processes"). So an express order is
 * announced to every worker while it is under way: `open` when the intake
 * accepts it and when a worker starts one of its messages, `settled` when the
 * projection records its final status. Each listening process counts an open
 * order as express work in flight and its standard work yields to it exactly
 * as to its own (at most `LANE_YIELD_MAX_MS` at each point), until the order
 * settles or `holdMs` after it opened, whichever comes first.
 *
 * The signals are core NATS messages (nothing stored): one lost costs only
 * the hold it would have started or ended early.
 */
export const LANE_SIGNAL_SUBJECT = 'saga.lanes.express'

const LaneSignal = v.object({
  orderId: OrderIdSchema,
  state: v.picklist(['open', 'settled']),
})

export interface LaneSignals {
  /** An express order is under way (the intake accepted it, or a worker starts one of its messages). */
  open(orderId: string): void
  /** An express order has its final status. */
  settled(orderId: string): void
  /** Takes every process's signals into `lanes` from now on (once; later calls do nothing). */
  listen(lanes: LanePriority): void
  /** Open orders this process holds for. */
  holding(): number
  /** Ends every hold and stops listening. */
  stop(): void
}

export interface LaneSignalOptions {
  nc: Pick<NatsConnection, 'publish' | 'subscribe'>
  /** How long one open order holds standard work at most (LANE_SIGNAL_HOLD_MS); 0: no signals at all. */
  holdMs: number
  logger: Logger
  /** Open orders held at once at most; more are not held (a bound on memory, and on a flood of signals). */
  maxOpen?: number
  /** How long a settled order is remembered, so a late `open` (a step after its final status) holds nothing. */
  settledMemoryMs?: number
  now?: () => number
}

const encoder = new TextEncoder()
const SETTLED_MEMORY_MS = 60_000
const MAX_OPEN = 1_000
/** Settled orders remembered at most. */
const MAX_SETTLED = 10_000

export function createLaneSignals(options: LaneSignalOptions): LaneSignals {
  const { nc, holdMs, logger } = options
  const maxOpen = options.maxOpen ?? MAX_OPEN
  const settledMemoryMs = options.settledMemoryMs ?? SETTLED_MEMORY_MS
  const now = options.now ?? Date.now
  const open = new Map<string, { end: () => void; timer: ReturnType<typeof setTimeout> }>()
  /** Settled order -> when it is forgotten; in insertion order, so the oldest come first. */
  const settled = new Map<string, number>()
  let sub: Subscription | undefined
  let lanes: LanePriority | undefined

  function send(orderId: string, state: 'open' | 'settled'): void {
    if (holdMs <= 0) return
    try {
      nc.publish(LANE_SIGNAL_SUBJECT, encoder.encode(JSON.stringify({ orderId, state })))
    } catch (error) {
      // A closed or draining connection: the order is simply not announced.
      logger.debug({ err: error, orderId, state }, 'lane signal not sent')
    }
  }

  function release(orderId: string): void {
    const held = open.get(orderId)
    if (held === undefined) return
    open.delete(orderId)
    clearTimeout(held.timer)
    held.end()
  }

  function forgetSettled(at: number): void {
    for (const [orderId, until] of settled) {
      if (until > at && settled.size <= MAX_SETTLED) break
      settled.delete(orderId)
    }
  }

  function take(orderId: string, state: 'open' | 'settled'): void {
    if (lanes === undefined) return
    const at = now()
    forgetSettled(at)
    if (state === 'settled') {
      release(orderId)
      settled.delete(orderId)
      settled.set(orderId, at + settledMemoryMs)
      return
    }
    if (open.has(orderId) || settled.has(orderId) || open.size >= maxOpen) return
    const end = lanes.expressStarted()
    const timer = setTimeout(() => release(orderId), holdMs)
    // A hold never keeps a stopping process alive.
    if (typeof timer === 'object' && 'unref' in timer) timer.unref()
    open.set(orderId, { end, timer })
  }

  return {
    open: (orderId) => send(orderId, 'open'),
    settled: (orderId) => send(orderId, 'settled'),
    listen(target) {
      if (holdMs <= 0 || sub !== undefined) return
      lanes = target
      sub = nc.subscribe(LANE_SIGNAL_SUBJECT, {
        callback: (error, msg) => {
          if (error !== null) {
            logger.warn(
              { err: error },
              'lane signals unavailable; standard work yields only to express work here',
            )
            return
          }
          let parsed: v.SafeParseResult<typeof LaneSignal>
          try {
            parsed = v.safeParse(LaneSignal, msg.json())
          } catch {
            return
          }
          if (parsed.success) take(parsed.output.orderId, parsed.output.state)
        },
      })
    },
    holding: () => open.size,
    stop() {
      sub?.unsubscribe()
      sub = undefined
      for (const orderId of [...open.keys()]) release(orderId)
    },
  }
}
