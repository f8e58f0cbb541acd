// What the priority section drives: a burst of standard orders (the backlog)
// and express orders at a fixed rate, each with its POST-to-`confirmed` time
// and where that time went.
import { SUBJECTS } from '../../schemas/subjects.ts'
import type { LaneWatcher, Settled } from './lane-watcher.ts'
import { summarizeLatencies, type LatencySummary } from './stats.ts'

/**
 * Where an express order's time went, ms: POST to published, to reserved, to
 * charged, to recorded `confirmed` by the projection, to seen by the bench.
 */
export interface Stages {
  intake: number
  reserve: number
  charge: number
  project: number
  observe: number
}
export const STAGES = ['intake', 'reserve', 'charge', 'project', 'observe'] as const

export class PlaceOrderError extends Error {
  override readonly name = 'PlaceOrderError'
}

function orderBody(n: number, skus: readonly string[], priority?: 'express'): string {
  const sku = skus[n % skus.length] ?? 'SKU-0000'
  return JSON.stringify({
    customerId: `bench-${n % 997}`,
    items: [{ sku, quantity: 1 }],
    paymentToken: 'tok_ok',
    ...(priority === undefined ? {} : { priority }),
  })
}

async function post(url: string, authorization: string, body: string): Promise<string> {
  const res = await fetch(`${url}/orders`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: authorization },
    body,
    signal: AbortSignal.timeout(30_000),
  })
  const text = await res.text()
  if (res.status !== 202) throw new PlaceOrderError(`POST /orders: ${res.status} ${text.slice(0, 200)}`)
  return (JSON.parse(text) as { orderId: string }).orderId
}

/** Places `count` standard orders, `parallel` at a time; resolves once every one was accepted (202). */
export async function placeBacklog({
  url,
  authorization,
  count,
  skus,
  parallel = 64,
}: {
  url: string
  authorization: string
  count: number
  skus: readonly string[]
  parallel?: number
}): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < count) await post(url, authorization, orderBody(next++, skus))
  }
  await Promise.all(Array.from({ length: parallel }, lane))
}

export interface ExpressFlow {
  sent: number
  /** POST-to-`confirmed`, from each order's intended send time (open model: a stall is not hidden). */
  confirm: LatencySummary
  /** Every confirmed order's latency, ms (for pooled percentiles). */
  latencies: number[]
  /** Every confirmed order's stages (same order as `latencies`). */
  stages: Stages[]
  cancelled: number
  /** Neither confirmed nor cancelled within the settle time, or refused. */
  failed: number
  firstError?: string
}

/**
 * Sends express orders at `rate`/s on a fixed schedule while `keepGoing()`
 * says so, then waits up to `settleMs` for the last ones to settle.
 */
export async function runExpressFlow({
  url,
  authorization,
  rate,
  skus,
  watcher,
  keepGoing,
  settleMs,
}: {
  url: string
  authorization: string
  rate: number
  skus: readonly string[]
  watcher: LaneWatcher
  keepGoing: (sent: number) => boolean
  settleMs: number
}): Promise<ExpressFlow> {
  const interval = 1000 / rate
  const latencies: number[] = []
  const stages: Stages[] = []
  const pending: Promise<void>[] = []
  let cancelled = 0
  let failed = 0
  let firstError: string | undefined
  const one = async (n: number, intended: number): Promise<void> => {
    try {
      const orderId = await post(url, authorization, orderBody(n, skus, 'express'))
      let timer: ReturnType<typeof setTimeout> | undefined
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), settleMs)
      })
      const settled = await Promise.race([watcher.express(orderId), timeout]).finally(() =>
        clearTimeout(timer),
      )
      if (settled === 'timeout') throw new Error(`express order ${orderId} not settled in ${settleMs} ms`)
      if (settled.status === 'cancelled') cancelled++
      else {
        latencies.push(settled.at - intended)
        stages.push(toStages(settled, intended))
      }
    } catch (error) {
      failed++
      firstError ??= error instanceof Error ? error.message : String(error)
    }
  }
  const t0 = performance.now()
  let sent = 0
  for (;;) {
    const intended = t0 + sent * interval
    const wait = intended - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    if (!keepGoing(sent)) break
    pending.push(one(sent, intended))
    sent++
  }
  await Promise.all(pending)
  return {
    sent,
    confirm: summarizeLatencies([...latencies]),
    latencies,
    stages,
    cancelled,
    failed,
    ...(firstError === undefined ? {} : { firstError }),
  }
}

/** The event times of a confirmed express order, as stage durations (wall clock, ms resolution). */
function toStages(s: Settled, intended: number): Stages {
  const sent = s.wallAt - (s.at - intended)
  const created = s.events[SUBJECTS.orderCreated] ?? Number.NaN
  const reserved = s.events[SUBJECTS.inventoryReserved] ?? Number.NaN
  const charged = s.events[SUBJECTS.paymentCompleted] ?? Number.NaN
  return {
    intake: created - sent,
    reserve: reserved - created,
    charge: charged - reserved,
    project: s.recordedAt - charged,
    observe: s.wallAt - s.recordedAt,
  }
}
