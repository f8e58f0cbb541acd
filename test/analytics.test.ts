// The analytics worker against the real saga: a known mix of orders gives
// exact counts, revenue and refunds; so does a kill -9 of the worker while
// events stream in, and a replay from the start of the stream (with a backlog
// the live consumer then skips). Every worker a real process on a real
// nats-server.
import { jetstream } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { headers } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BUCKETS } from '../schemas/subjects.ts'
import { waitFor } from './harness/wait-for.ts'
import { bearer } from './support/provision.ts'
import {
  crashWorker,
  reviveWorker,
  startSagaStack,
  startWorker,
  type SagaStack,
  type ServiceProcess,
} from './support/saga-stack.ts'
import { itKeepsTheMoneyInvariant } from './support/money.ts'

let stack: SagaStack
let analytics: ServiceProcess
/** The analytics worker a case left running for the next one. */
let running: ServiceProcess | undefined
const extra: ServiceProcess[] = []
const STARTED = new Date(Date.now() - 60_000).toISOString()

beforeAll(async () => {
  stack = await startSagaStack({
    // A crashed analytics worker's unacked message comes back after the ack wait.
    workerEnv: { CONSUMER_ACK_WAIT_MS: '3000' },
    analytics: { LOG_LEVEL: 'debug' },
  })
  if (stack.analytics === undefined) throw new Error('no analytics worker')
  analytics = stack.analytics
  await stack.setStock('AN-MUG', 1_000, 250)
  await stack.setStock('AN-HAT', 1_000, 1_000)
  await stack.setStock('AN-GONE', 0, 500)
}, 90_000)

afterAll(async () => {
  await Promise.allSettled(extra.map((p) => p.handle.stop(5_000)))
  await stack?.dispose()
})

interface Totals {
  created: number
  confirmed: number
  cancelled: Record<string, number>
  cancelledTotal: number
  conversionRate: number | null
  revenue: Record<string, { grossCents: number; refundedCents: number; netCents: number }>
  refunds: { count: number; cents: Record<string, number> }
  topSkus: { sku: string; units: number }[]
  sagaDurationMs: { count: number; p50: number | null; p99: number | null }
}
interface Summary {
  generation: string
  totals: Totals
  windows: unknown[]
}

async function summary(proc: ServiceProcess = analytics): Promise<Summary> {
  const to = new Date(Date.now() + 120_000).toISOString()
  const res = await fetch(`${proc.url}/analytics/summary?from=${STARTED}&to=${to}`, {
    headers: bearer('admin'),
  })
  if (res.status !== 200) throw new Error(`summary: ${res.status} ${await res.text()}`)
  return (await res.json()) as Summary
}

/** Waits until the worker shows `created` orders, then returns its summary. */
async function settled(created: number, proc: ServiceProcess = analytics, timeoutMs = 30_000) {
  return await waitFor(
    async () => {
      const s = await summary(proc)
      return s.totals.created === created && s.totals.sagaDurationMs.count === created ? s : undefined
    },
    { timeoutMs, intervalMs: 100, message: `analytics shows ${created} orders, each final` },
  )
}

const order = (items: [string, number][], paymentToken = 'tok_ok') => ({
  customerId: 'cust-analytics',
  items: items.map(([sku, quantity]) => ({ sku, quantity })),
  paymentToken,
})

async function placeAll(bodies: ReturnType<typeof order>[]): Promise<string[]> {
  const placed = await Promise.all(bodies.map((b) => stack.placeOrder(b)))
  for (const p of placed) expect(p.status).toBe(202)
  await Promise.all(placed.map((p) => stack.waitForFinal(p.orderId)))
  return placed.map((p) => p.orderId)
}

const reasons = (r: Partial<Record<string, number>>) => ({
  out_of_stock: 0,
  payment_declined: 0,
  payment_failed: 0,
  customer_request: 0,
  deadline_exceeded: 0,
  ...r,
})

/** The totals of batch A (below), and of A plus `more` confirmed AN-MUG x1 orders and `gone` out of stock. */
function expected(more = 0, gone = 0): Omit<Totals, 'sagaDurationMs'> {
  const created = 9 + more + gone
  const gross = 4750 + more * 250
  return {
    created,
    confirmed: 4 + more,
    cancelled: reasons({ out_of_stock: 2 + gone, payment_declined: 2, customer_request: 2 }),
    cancelledTotal: 6 + gone,
    conversionRate: (4 + more) / created,
    revenue: { USD: { grossCents: gross, refundedCents: 1000, netCents: gross - 1000 } },
    refunds: { count: 1, cents: { USD: 1000 } },
    topSkus: [
      { sku: more > 1 ? 'AN-MUG' : 'AN-HAT', units: more > 1 ? 3 + more : 4 },
      { sku: more > 1 ? 'AN-HAT' : 'AN-MUG', units: more > 1 ? 4 : 3 + more },
    ],
  }
}

function expectTotals(s: Summary, want: Omit<Totals, 'sagaDurationMs'>): void {
  const { sagaDurationMs, ...rest } = s.totals
  expect(rest).toStrictEqual(want)
  expect(sagaDurationMs.count).toBe(want.created)
  expect(sagaDurationMs.p50).toBeGreaterThanOrEqual(0)
  expect(sagaDurationMs.p99).toBeGreaterThanOrEqual(sagaDurationMs.p50 ?? 0)
  expect(sagaDurationMs.p99).toBeLessThan(30_000)
}

const handled = (proc: ServiceProcess) =>
  proc.handle.lines().filter((l) => l.includes('"msg":"message handled"')).length

describe('analytics', () => {
  it('counts a known mix exactly: confirmed, out of stock, declined, cancelled, refunded', async () => {
    // Confirmed: 500 + 1000 + 2250 cents; AN-MUG 3 units, AN-HAT 3.
    await placeAll([
      order([['AN-MUG', 2]]),
      order([['AN-HAT', 1]]),
      order([
        ['AN-MUG', 1],
        ['AN-HAT', 2],
      ]),
      order([['AN-GONE', 1]]),
      order([['AN-GONE', 1]]),
      order([['AN-MUG', 1]], 'tok_declined'),
      order([['AN-MUG', 1]], 'tok_declined'),
    ])
    // Cancelled by its customer before payment (the payment worker is down).
    await crashWorker(stack.payment)
    try {
      const { orderId } = await stack.placeOrder(order([['AN-MUG', 1]]))
      await waitFor(async () => (await stack.getOrder(orderId))?.status === 'reserved', {
        message: 'order reserved',
      })
      expect((await stack.cancelOrder(orderId)).status).toBe(202)
      expect(await stack.waitForFinal(orderId)).toMatchObject({
        status: 'cancelled',
        reason: 'customer_request',
      })
    } finally {
      await reviveWorker(stack.payment)
    }
    // Confirmed (1000), then cancelled by its customer: refunded.
    const [paid = ''] = await placeAll([order([['AN-HAT', 1]])])
    expect((await stack.cancelOrder(paid)).status).toBe(202)
    await waitFor(async () => (await stack.getOrder(paid))?.refundId !== undefined, {
      timeoutMs: 20_000,
      message: 'paid order refunded',
    })

    const s = await waitFor(
      async () => {
        const got = await summary()
        // The refund's `orders.cancelled` is stored just after its `payments.refunded`: wait for both.
        const { refunds, created, cancelledTotal } = got.totals
        return refunds.count === 1 && created === 9 && cancelledTotal === expected().cancelledTotal
          ? got
          : undefined
      },
      { timeoutMs: 30_000, intervalMs: 100, message: 'analytics shows the mix' },
    )
    expectTotals(s, expected())
    expect(s.windows.length).toBeGreaterThan(0)
  })

  it('answers HEAD on its stream at once, chunked and without a length, as GET would send it (Bun)', async () => {
    const started = Date.now()
    const head = await fetch(`${analytics.url}/analytics/stream`, {
      method: 'HEAD',
      headers: bearer('admin'),
    })
    expect([head.status, head.headers.get('Content-Type'), head.headers.get('Content-Length')]).toStrictEqual(
      [200, 'text/event-stream', null],
    )
    expect(head.headers.get('Transfer-Encoding')).toBe('chunked')
    expect(Date.now() - started).toBeLessThan(2_000)
  })

  it('counts the same after a kill -9 of the worker while events stream in', async () => {
    const before = handled(analytics)
    const placing = placeAll([
      ...Array.from({ length: 40 }, () => order([['AN-MUG', 1]])),
      ...Array.from({ length: 5 }, () => order([['AN-GONE', 1]])),
    ])
    // Killed once it has handled some of the new events (the saga still publishing).
    await waitFor(() => handled(analytics) >= before + 30, {
      timeoutMs: 20_000,
      intervalMs: 5,
      message: 'analytics handling the new orders',
    })
    await crashWorker(analytics)
    await placing
    const killedAt = handled(analytics)
    await reviveWorker(analytics)
    const s = await settled(54, analytics, 40_000)
    expectTotals(s, expected(40, 5))
    // It was killed mid-stream: some of the batch's events came after the kill.
    expect(killedAt - before).toBeLessThan(45 * 3)
  })

  it('rebuilds the same windows from the start of the stream, and skips the backlog it replayed', async () => {
    const live = await summary()
    // A backlog: orders the live consumer has not seen when the replay starts.
    await crashWorker(analytics)
    await placeAll(Array.from({ length: 6 }, () => order([['AN-MUG', 1]])))
    // A worker that replays from the start of the stream (stopped with the others).
    const replayFromStart = async () => {
      const worker = await startWorker('analytics', {
        ...stack.natsEnv,
        ANALYTICS_REPLAY_FROM: '2000-01-01T00:00:00Z',
      })
      extra.push(worker)
      return worker
    }
    const replayed = await replayFromStart()
    const s = await settled(60, replayed)
    expect(s.generation).not.toBe(live.generation)
    expectTotals(s, expected(46, 5))
    expect(replayed.handle.lines().some((l) => l.includes('replay: windows rebuilt and swapped'))).toBe(true)
    // The backlog's events reached the live consumer after the replay had counted them: skipped.
    for (const kind of ['created', 'confirmed']) {
      const skipped = new RegExp(`analytics_events_total\\{kind="${kind}",outcome="redelivered"[^}]*\\} 6\\b`)
      await waitFor(async () => skipped.test(await (await fetch(`${replayed.url}/metrics`)).text()), {
        message: `the backlog's ${kind} events skipped as already counted`,
      })
    }
    expectTotals(await summary(replayed), expected(46, 5))

    // A second replay from the start gives the very same windows. Before it,
    // a replay killed before its swap left an orphan generation behind.
    await replayed.handle.stop(5_000)
    const nc = await connect(stack.server.connectOptions())
    try {
      const windows = await new Kvm(nc).open(BUCKETS.analyticsWindows)
      await windows.put('w.zzorphan.202601010000', '{}')
      const again = await replayFromStart()
      const twice = await settled(60, again)
      expect(twice.generation).not.toBe(s.generation)
      expect(twice.windows).toStrictEqual(s.windows)
      expect(twice.totals).toStrictEqual(s.totals)
      // Only the active generation's windows are left.
      const keys: string[] = []
      for await (const key of await windows.keys('w.>')) keys.push(key)
      expect(keys.length).toBeGreaterThan(0)
      expect(keys.filter((key) => !key.startsWith(`w.${twice.generation}.`))).toStrictEqual([])
    } finally {
      await nc.close()
    }
  })

  it('answers 503 and is not ready once its windows are no longer the active generation; a replay rebuilds them', async () => {
    const worker = await startWorker('analytics', stack.natsEnv)
    extra.push(worker)
    await settled(60, worker)
    // A live stream client, open before the erasure.
    const live = await fetch(`${worker.url}/analytics/stream`, { headers: bearer('admin') })
    expect(live.status).toBe(200)
    const reading = live.text()
    // The bucket erased by a roll-up (an identity that may write the bucket can do it): no `active` record left.
    const nc = await connect(stack.server.connectOptions())
    try {
      const rollup = headers()
      rollup.set('Nats-Rollup', 'all')
      await jetstream(nc).publish(`$KV.${BUCKETS.analyticsWindows}.zzz`, '', { headers: rollup })
    } finally {
      await nc.close()
    }
    // Seen within a check interval (5 s) by the worker's own check, whoever asks.
    await waitFor(() => worker.handle.lines().some((l) => l.includes('analytics windows no longer active')), {
      timeoutMs: 10_000,
      message: 'the worker logs that its windows are no longer active',
    })
    // The open stream ended; a new one, the summary and /ready refuse.
    await expect(reading).resolves.toEqual(expect.any(String))
    expect((await fetch(`${worker.url}/analytics/stream`, { headers: bearer('admin') })).status).toBe(503)
    const to = new Date(Date.now() + 120_000).toISOString()
    const res = await fetch(`${worker.url}/analytics/summary?from=${STARTED}&to=${to}`, {
      headers: bearer('admin'),
    })
    expect(res.status).toBe(503)
    const body = (await res.json()) as { error: string; message: string }
    expect(body.error).toBe('unavailable')
    expect(body.message).toContain('ANALYTICS_REPLAY_FROM')
    const ready = await fetch(`${worker.url}/ready`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toMatchObject({ reason: 'generation_gone' })
    await worker.handle.stop(5_000)

    const rebuilt = await startWorker('analytics', { ...stack.natsEnv, ANALYTICS_REPLAY_FROM: '0' })
    extra.push(rebuilt)
    expectTotals(await settled(60, rebuilt), expected(46, 5))
    running = rebuilt
  })

  it('stops taking events once a replay by another process replaced its windows: later events all reach the active ones', async () => {
    const first = running
    if (first === undefined) throw new Error('no running analytics worker')
    // Started by mistake beside the running one, with a replay: its windows become the active ones.
    const second = await startWorker('analytics', { ...stack.natsEnv, ANALYTICS_REPLAY_FROM: '0' })
    extra.push(second)
    expectTotals(await settled(60, second), expected(46, 5))
    await waitFor(() => first.handle.lines().some((l) => l.includes('analytics windows no longer active')), {
      timeoutMs: 10_000,
      message: 'the first worker sees its windows replaced',
    })
    const handledBefore = handled(first)
    // Every one of these reaches the active windows: the first worker takes none.
    await placeAll(Array.from({ length: 8 }, () => order([['AN-MUG', 1]])))
    expectTotals(await settled(68, second), expected(54, 5))
    expect(handled(first)).toBe(handledBefore)
  })

  itKeepsTheMoneyInvariant(() => stack)
})
