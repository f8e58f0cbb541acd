// The payment worker's reconciliation on a real KV bucket, with a scripted
// processor: a charge that surfaces late is refunded once and announced; a
// key the processor never saw is closed after the window; a refund the
// processor cannot take yet is retried until it is made; entries survive a
// new reconciler (a restart forgets nothing).
import { Kvm, type KV } from '@nats-io/kv'
import { jetstreamManager } from '@nats-io/jetstream'
import { sealBucket } from '../shared/security/record-seal.ts'
import { BUCKETS } from '../schemas/subjects.ts'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SUBJECTS } from '../schemas/subjects.ts'
import type { OutgoingEvent } from '../shared/nats/publish.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { memoryDecisionStore } from '../shared/saga/decision.ts'
import { GatewayUnavailableError, type AttemptLookup } from '../workers/payment/gateway-client.ts'
import { addEntry, createReconciler, type ReconciliationEntry } from '../workers/payment/reconciliation.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'

let server: NatsServerHandle
let nc: NatsConnection
let kv: KV

beforeAll(async () => {
  server = await startNatsServer({ websocket: false })
  nc = await connect(server.connectOptions())
  // Sealed as the payment worker binds it (a settled entry's delete marker included).
  const bucket = await new Kvm(nc).create('reconciliation-test', { history: 1, allow_direct: false })
  kv = sealBucket(bucket, {
    bucket: BUCKETS.reconciliation,
    key: crypto.getRandomValues(new Uint8Array(32)),
    floor: 0,
  })
})

afterAll(async () => {
  await nc?.close()
  await server?.dispose()
})

const orderId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`
const entry = (n: number, kind: 'charge' | 'refund', chargeId?: string): ReconciliationEntry => ({
  orderId: orderId(n),
  kind,
  ...(chargeId === undefined ? {} : { chargeId }),
  reason: kind === 'charge' ? 'reconciliation' : 'customer_request',
  amountCents: 700,
  currency: 'USD',
  correlationId: `corr-${n}`,
})

/** As the payment worker lists them: the stream's subjects, a deleted entry's marker included. */
async function listKeys(): Promise<string[]> {
  const prefix = '$KV.reconciliation-test.'
  const info = await (
    await jetstreamManager(nc)
  ).streams.info('KV_reconciliation-test', {
    subjects_filter: `${prefix}>`,
  })
  return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length))
}

function reconcilerWith(
  lookups: Record<string, AttemptLookup[]>,
  refundFails: Set<string>,
  clock: { now: number },
  /** A publish it answers true for fails (NATS gone), once each. */
  publishFails: (event: OutgoingEvent) => boolean = () => false,
) {
  const published: { event: OutgoingEvent; correlationId: string; priority?: string }[] = []
  const refunds: string[] = []
  const reports: [count: number, oldestMs: number][] = []
  const seen = new Map<string, number>()
  const reconciler = createReconciler({
    kv,
    listKeys,
    gateway: {
      lookup: (key) => {
        const answers = lookups[key] ?? [{ kind: 'not_found' }]
        const i = seen.get(key) ?? 0
        seen.set(key, i + 1)
        return Promise.resolve(answers[Math.min(i, answers.length - 1)] ?? { kind: 'not_found' })
      },
      refund: ({ chargeId, key }) => {
        refunds.push(key)
        if (refundFails.has(chargeId)) return Promise.reject(new GatewayUnavailableError('down'))
        return Promise.resolve({ refundId: `re_${chargeId}`, amountCents: 700 })
      },
    },
    decisions: memoryDecisionStore(),
    publish: (event, correlationId, _trace, priority) => {
      if (publishFails(event)) return Promise.reject(new Error('NATS gone'))
      published.push({ event, correlationId, ...(priority === undefined ? {} : { priority }) })
      return Promise.resolve()
    },
    logger: createLogger({ service: 'test', level: 'silent' }),
    intervalMs: 10,
    windowMs: 1_000,
    maxBackoffMs: 10,
    now: () => clock.now,
    onPending: (count, oldestMs) => reports.push([count, oldestMs]),
  })
  return { reconciler, published, refunds, reports }
}

describe('reconciliation', () => {
  it('refunds a charge that surfaces after the order was cancelled, once, and announces it', async () => {
    const clock = { now: 1_000_000 }
    await addEntry(kv, entry(1, 'charge'), clock.now)
    await addEntry(kv, entry(1, 'charge'), clock.now) // added twice: one entry
    const { reconciler, published, refunds } = reconcilerWith(
      { [orderId(1)]: [{ kind: 'processing' }, { kind: 'succeeded', chargeId: 'ch_late' }] },
      new Set(),
      clock,
    )
    expect(await reconciler.scan()).toBe(1) // still processing
    clock.now += 20
    expect(await reconciler.scan()).toBe(0)
    expect(refunds).toStrictEqual([`refund:${orderId(1)}`])
    expect(published.map((p) => [p.event.subject, p.event.payload, p.correlationId])).toMatchObject([
      [
        SUBJECTS.paymentRefunded,
        { chargeId: 'ch_late', refundId: 're_ch_late', chargedCents: 700, reason: 'reconciliation' },
        'corr-1',
      ],
      // The order's outcome (it ended payment_failed), said again under its first id as the entry closes.
      [
        SUBJECTS.paymentFailed,
        { orderId: orderId(1), reason: 'gateway_unavailable', unresolved: true },
        'corr-1',
      ],
    ])
    expect(published[1]?.event.msgId).toBe(`${SUBJECTS.paymentFailed}:${orderId(1)}`)
    expect(await reconciler.scan()).toBe(0)
    expect(refunds).toHaveLength(1)
  })

  it('closes a key the processor never saw once the window has passed, refunding nothing', async () => {
    const clock = { now: 2_000_000 }
    await addEntry(kv, entry(2, 'charge'), clock.now)
    const { reconciler, published } = reconcilerWith({}, new Set(), clock)
    expect(await reconciler.scan()).toBe(1)
    clock.now += 1_001
    expect(await reconciler.scan()).toBe(0)
    // Nothing refunded; the order's outcome said again.
    expect(published.map((p) => p.event.subject)).toStrictEqual([SUBJECTS.paymentFailed])
    // Closed by a delete marker, still listed with the stream's subjects: read as deleted, never pending again.
    expect((await kv.get(orderId(2)))?.operation).toBe('DEL')
    expect(await reconciler.scan()).toBe(0)
  })

  it('retries a refund the processor cannot take yet, across a new reconciler', async () => {
    const clock = { now: 3_000_000 }
    await addEntry(kv, entry(3, 'refund', 'ch_3'), clock.now)
    const down = reconcilerWith({}, new Set(['ch_3']), clock)
    expect(await down.reconciler.scan()).toBe(1)
    clock.now += 20
    expect(await down.reconciler.scan()).toBe(1)
    expect(down.published).toStrictEqual([])
    // The age of the oldest entry still pending: what an alert watches (the count alone may never fall to 0).
    expect(down.reports).toStrictEqual([
      [1, 0],
      [1, 20],
    ])
    // A restart: a new reconciler finds the entry in the bucket.
    const back = reconcilerWith({}, new Set(), clock)
    clock.now += 20
    expect(await back.reconciler.scan()).toBe(0)
    expect(back.reports).toStrictEqual([[0, 0]])
    expect(back.published.map((p) => p.event.payload)).toMatchObject([
      { chargeId: 'ch_3', refundId: 're_ch_3', reason: 'customer_request' },
      { orderId: orderId(3), reason: 'customer_request' },
    ])
    expect(back.published.map((p) => p.event.subject)).toStrictEqual([
      SUBJECTS.paymentRefunded,
      SUBJECTS.orderCancelled,
    ])
  })

  it('ages an entry it cannot read like any other (it never settles: it is what an alert is for)', async () => {
    const clock = { now: 3_500_000 }
    const key = orderId(9)
    await kv.put(key, 'not an entry')
    const { reconciler, reports } = reconcilerWith({}, new Set(), clock)
    expect(await reconciler.scan()).toBe(1)
    clock.now += 5_000
    expect(await reconciler.scan()).toBe(1)
    expect(reports).toStrictEqual([
      [1, 0],
      [1, 5_000],
    ])
    await kv.purge(key)
  })

  it("announces an express order's refund in its lane", async () => {
    const clock = { now: 4_000_000 }
    await addEntry(kv, { ...entry(4, 'charge'), priority: 'express' }, clock.now)
    await addEntry(kv, entry(5, 'charge'), clock.now)
    const { reconciler, published } = reconcilerWith(
      {
        [orderId(4)]: [{ kind: 'succeeded', chargeId: 'ch_4' }],
        [orderId(5)]: [{ kind: 'succeeded', chargeId: 'ch_5' }],
      },
      new Set(),
      clock,
    )
    expect(await reconciler.scan()).toBe(0)
    // Each order's refund and outcome in its own lane.
    expect(
      published.map((p) => [p.event.subject, p.event.payload.orderId, p.priority ?? 'standard']).sort(),
    ).toStrictEqual(
      [
        [SUBJECTS.paymentRefunded, orderId(4), 'express'],
        [SUBJECTS.paymentFailed, orderId(4), 'express'],
        [SUBJECTS.paymentRefunded, orderId(5), 'standard'],
        [SUBJECTS.paymentFailed, orderId(5), 'standard'],
      ].sort(),
    )
  })

  it('keeps an entry whose outcome could not be published, and says it on the next scan (the refund asked again under its key)', async () => {
    const clock = { now: 5_000_000 }
    await addEntry(kv, entry(6, 'charge'), clock.now)
    let failed = false
    const { reconciler, published, refunds } = reconcilerWith(
      { [orderId(6)]: [{ kind: 'succeeded', chargeId: 'ch_6' }] },
      new Set(),
      clock,
      (event) => {
        if (event.subject !== SUBJECTS.paymentFailed || failed) return false
        failed = true
        return true
      },
    )
    expect(await reconciler.scan()).toBe(1) // kept: its outcome is not said yet
    clock.now += 100
    expect(await reconciler.scan()).toBe(0)
    expect(refunds).toStrictEqual([`refund:${orderId(6)}`, `refund:${orderId(6)}`])
    expect(published.map((p) => [p.event.subject, p.event.msgId])).toStrictEqual([
      [SUBJECTS.paymentRefunded, expect.any(String)],
      [SUBJECTS.paymentRefunded, published[0]?.event.msgId],
      [SUBJECTS.paymentFailed, `${SUBJECTS.paymentFailed}:${orderId(6)}`],
    ])
    expect(await reconciler.scan()).toBe(0)
    expect(refunds).toHaveLength(2)
  })
})
