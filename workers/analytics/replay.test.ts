// The replay's cutoff against a stream that has lost its oldest events (as
// its age limit removes them): the windows it can no longer rebuild whole are
// kept. A real nats-server; the live consumer is played by reading the stream
// by sequence.
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { headers, type NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BUCKETS } from '../../schemas/subjects.ts'
import { DEFAULT_LIMITS, ensureBucket, orderStreamConfig } from '../../shared/nats/topology.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { startNatsServer, type NatsServerHandle } from '../../test/harness/nats-server.ts'
import { decodeStored } from './decode.ts'
import { MINUTE_MS, toAnalyticsEvent, toMinute } from './domain.ts'
import { firstWholeMinute, newGeneration, replayWindows, type ReplayDeps } from './replay.ts'
import { createAnalyticsStore, PURGE_MARKER_TTL, type AnalyticsStore } from './store.ts'
import { emptyWindow, windowKey } from './windows.ts'
import { KvRecordError } from '../../shared/nats/kv-json.ts'

const WINDOWS_STREAM = `KV_${BUCKETS.analyticsWindows}`

describe('firstWholeMinute', () => {
  const now = new Date('2026-03-01T12:00:30Z')
  const created = '2026-02-01T08:30:40Z'
  const none = '0001-01-01T00:00:00Z'
  it.each([
    [
      'the minute it was created in, for a stream that has lost nothing',
      1,
      '2026-03-01T11:00:10Z',
      9,
      60_000,
      '2026-02-01T08:30:00Z',
    ],
    [
      'the minute it was created in, for a stream that never held anything',
      0,
      none,
      0,
      60_000,
      '2026-02-01T08:30:00Z',
    ],
    [
      'the minute after the first message plus the margin, once older ones are gone',
      7,
      '2026-03-01T11:00:10Z',
      3,
      60_000,
      '2026-03-01T11:02:00Z',
    ],
    [
      'the minute after the first message, without a margin',
      7,
      '2026-03-01T11:00:00Z',
      3,
      0,
      '2026-03-01T11:01:00Z',
    ],
    ['the minute after now, when every message is gone', 12, none, 0, 0, '2026-03-01T12:01:00Z'],
  ] as const)('is %s', (_what, first_seq, first_ts, messages, marginMs, minute) => {
    expect(firstWholeMinute({ first_seq, first_ts, messages, created }, marginMs, now)).toBe(
      Date.parse(minute),
    )
  })
})

describe('replayWindows on a stream past its retention', () => {
  let server: NatsServerHandle
  let nc: NatsConnection
  let jsm: JetStreamManager
  let store: AnalyticsStore
  let applied = 0
  const logger = createLogger({ service: 'analytics-replay-test', level: 'silent' })
  const js = () => jetstream(nc)

  const publishCreated = async (orderId: string, occurredAt: string): Promise<number> => {
    const h = headers()
    h.set('X-Correlation-ID', `corr-${orderId}`)
    h.set('Event-Version', '2')
    const body = {
      version: 2,
      orderId,
      occurredAt,
      customer: { id: 'cust-1' },
      items: [{ sku: 'MUG', quantity: 2 }],
      sealedPaymentToken: 'sealed.v1.x',
    }
    return (await js().publish('orders.created', JSON.stringify(body), { headers: h })).seq
  }
  /** What the live consumer does: every event not applied yet, in stream order. */
  const applyLive = async (generation: string): Promise<void> => {
    const last = (await jsm.streams.info('ORDERS')).state.last_seq
    for (let seq = applied + 1; seq <= last; seq++) {
      const msg = await jsm.streams.getMessage('ORDERS', { seq })
      if (msg === null) continue
      const decoded = decodeStored(msg)
      if (!decoded.ok) throw new Error(`sequence ${seq} does not decode: ${JSON.stringify(decoded)}`)
      const contribution = await store.record(toAnalyticsEvent(decoded.subject, decoded.event), seq)
      if (contribution !== null) await store.apply(generation, contribution, seq)
      applied = seq
    }
  }
  const createdByMinute = async (generation: string): Promise<Record<string, number>> => {
    const windows = await Promise.all(
      (await store.windowKeys(generation)).map((key) => store.readWindow(key)),
    )
    return Object.fromEntries(
      windows.flatMap((w) => (w === null ? [] : [[new Date(w.minute).toISOString(), w.created] as const])),
    )
  }

  beforeAll(async () => {
    // Without the API guard: the last test deletes ORDERS, as a maintenance step would.
    server = await startNatsServer({ websocket: false, apiGuard: false })
    nc = await connect(server.connectOptions())
    jsm = await jetstreamManager(nc)
    await jsm.streams.add(orderStreamConfig(DEFAULT_LIMITS))
    // The windows bucket as a release before purge markers with a TTL made it;
    // the provision step turns per-message TTLs on.
    await new Kvm(nc).create(BUCKETS.analyticsWindows, { history: 1 })
    expect((await jsm.streams.info(WINDOWS_STREAM)).config.allow_msg_ttl).not.toBe(true)
    store = createAnalyticsStore({
      orders: await ensureBucket(nc, BUCKETS.analyticsOrders, DEFAULT_LIMITS),
      windows: await ensureBucket(nc, BUCKETS.analyticsWindows, DEFAULT_LIMITS),
      jsm,
    })
    expect((await jsm.streams.info(WINDOWS_STREAM)).config.allow_msg_ttl).toBe(true)
  })

  afterAll(async () => {
    await nc?.close()
    await server?.dispose()
  })

  it('keeps the windows the stream can no longer rebuild, and rebuilds those it holds', async () => {
    const generation = newGeneration(new Date())
    expect(await store.swapMeta(null, { generation, since: new Date().toISOString() })).toBe(true)
    const old = await publishCreated('0190f0f0-0000-7000-8000-00000000000a', '2026-01-01T10:00:00.000Z')
    const now = Date.now()
    await publishCreated('0190f0f0-0000-7000-8000-00000000000b', new Date(now).toISOString())
    // Dated ahead of its storage (a publisher's clock): in a minute the stream holds whole.
    const ahead = new Date(toMinute(now) + 5 * MINUTE_MS).toISOString()
    await publishCreated('0190f0f0-0000-7000-8000-00000000000c', ahead)
    await applyLive(generation)
    const before = await createdByMinute(generation)
    expect(before).toStrictEqual({
      '2026-01-01T10:00:00.000Z': 1,
      [new Date(toMinute(now)).toISOString()]: 1,
      [ahead]: 1,
    })
    // The oldest event removed, as the stream's age limit does.
    expect(await jsm.streams.deleteMessage('ORDERS', old, false)).toBe(true)

    const report = await replayWindows(
      { jsm, store, logger, durable: 'analytics', marginMs: 60_000 },
      new Date(0),
    )
    // No window lost, the oldest one included.
    expect(await createdByMinute(report.generation)).toStrictEqual(before)
    expect(report.requested).toBe('1970-01-01T00:00:00.000Z')
    // The minute after the first event held plus the margin: the one dated ahead is rebuilt.
    expect(Date.parse(report.cutoff)).toBeGreaterThan(toMinute(now))
    expect(Date.parse(report.cutoff)).toBeLessThanOrEqual(Date.parse(ahead))
    expect({ copied: report.copied, rebuilt: report.rebuilt }).toStrictEqual({ copied: 2, rebuilt: 1 })
    expect((await store.readMeta())?.value.generation).toBe(report.generation)

    // From a minute the stream holds whole: the cutoff is the one asked for.
    const again = await replayWindows(
      { jsm, store, logger, durable: 'analytics', marginMs: 0 },
      new Date(ahead),
    )
    expect(again.requested).toBeUndefined()
    expect(again.cutoff).toBe(ahead)
    expect({ copied: again.copied, rebuilt: again.rebuilt }).toStrictEqual({ copied: 2, rebuilt: 1 })
    expect(await createdByMinute(again.generation)).toStrictEqual(before)
  })

  it('rebuilds the same windows when they do not all fit in memory, late events included', async () => {
    const base = toMinute(Date.now()) + 20 * MINUTE_MS
    const at = (minutes: number) => new Date(base + minutes * MINUTE_MS + 1_000).toISOString()
    await publishCreated('0190f0f0-0000-7000-8000-0000000000d1', at(0))
    await publishCreated('0190f0f0-0000-7000-8000-0000000000d2', at(1))
    await publishCreated('0190f0f0-0000-7000-8000-0000000000d3', at(2))
    // Late: its minute was written out to make room before it came.
    await publishCreated('0190f0f0-0000-7000-8000-0000000000d4', at(0))
    const expected = {
      [new Date(base).toISOString()]: 2,
      [new Date(base + MINUTE_MS).toISOString()]: 1,
      [new Date(base + 2 * MINUTE_MS).toISOString()]: 1,
    }
    const deps = { jsm, store, logger, durable: 'analytics', marginMs: 0 }
    const inMemory = await replayWindows(deps, new Date(base))
    const fromThere = (windows: Record<string, number>) =>
      Object.fromEntries(Object.entries(windows).filter(([minute]) => Date.parse(minute) >= base))
    const held = await createdByMinute(inMemory.generation)
    expect(fromThere(held)).toStrictEqual(expected)
    const spilled = await replayWindows({ ...deps, maxWindowsInMemory: 1, batchSize: 1 }, new Date(base))
    expect(spilled.rebuilt).toBe(3)
    expect(await createdByMinute(spilled.generation)).toStrictEqual(held)
  })

  it('leaves purge markers that expire, and gives a TTL to those an older release left', async () => {
    const kv = await new Kvm(nc).open(BUCKETS.analyticsWindows)
    // A marker without a TTL, as a replay of an older release left it.
    await kv.put('w.gold.202601011000', new TextEncoder().encode('{}'))
    await kv.purge('w.gold.202601011000')
    const report = await replayWindows(
      { jsm, store, logger, durable: 'analytics', marginMs: 0 },
      new Date(Date.now() + MINUTE_MS),
    )
    expect(report.removed).toBeGreaterThanOrEqual(4) // the last test's generation's 3 windows, and the old marker
    const markers: Record<string, string> = {}
    for (let seq = 1; ;) {
      const msg = await jsm.streams.getMessage(WINDOWS_STREAM, {
        seq,
        next_by_subj: `$KV.${BUCKETS.analyticsWindows}.w.>`,
      } as unknown as { seq: number })
      if (msg === null) break
      const operation = msg.header?.get('KV-Operation') ?? ''
      if (operation !== '') markers[msg.subject] = `${operation} ttl=${msg.header?.get('Nats-TTL') ?? ''}`
      seq = msg.seq + 1
    }
    expect(markers[`$KV.${BUCKETS.analyticsWindows}.w.gold.202601011000`]).toBe(
      `PURGE ttl=${PURGE_MARKER_TTL}`,
    )
    expect(Object.values(markers).length).toBeGreaterThanOrEqual(report.removed)
    expect(new Set(Object.values(markers))).toStrictEqual(new Set([`PURGE ttl=${PURGE_MARKER_TTL}`]))
    // Nothing left to remove: the next replay finds only expiring markers.
    const next = await replayWindows(
      { jsm, store, logger, durable: 'analytics', marginMs: 0 },
      new Date(Date.now() + MINUTE_MS),
    )
    expect(next.removed).toBe(report.rebuilt + report.copied)
  })

  it('drops a window it can no longer rebuild that fails its check, and stops at one before the minute asked for', async () => {
    const active = (await store.readMeta())?.value.generation ?? ''
    const kv = await new Kvm(nc).open(BUCKETS.analyticsWindows)
    // Older than ORDERS: copied, not rebuilt. Not a window (another writer of the bucket).
    const old = Date.parse('2025-06-01T10:00:00Z')
    const before = await createdByMinute(active)
    await kv.put(windowKey(active, old), new TextEncoder().encode('{"not":"a window"}'))
    const deps = { jsm, store, logger, durable: 'analytics', marginMs: 0 }
    await expect(replayWindows(deps, new Date(old + MINUTE_MS))).rejects.toThrow(KvRecordError)
    expect((await store.readMeta())?.value.generation).toBe(active)
    const report = await replayWindows(deps, new Date(old - MINUTE_MS))
    expect(report.dropped).toBe(1)
    expect(await createdByMinute(report.generation)).toStrictEqual(before)
  })

  it('keeps the windows of minutes before ORDERS was created again', async () => {
    const kept = await createdByMinute((await store.readMeta())?.value.generation ?? '')
    expect(kept['2026-01-01T10:00:00.000Z']).toBe(1)
    await jsm.streams.delete('ORDERS')
    await jsm.streams.add(orderStreamConfig(DEFAULT_LIMITS))
    const created = Date.parse((await jsm.streams.info('ORDERS')).created)
    const report = await replayWindows({ jsm, store, logger, durable: 'analytics', marginMs: 0 }, new Date(0))
    expect(report.cutoff).toBe(new Date(toMinute(created)).toISOString())
    const before = (windows: Record<string, number>) =>
      Object.fromEntries(Object.entries(windows).filter(([minute]) => Date.parse(minute) < toMinute(created)))
    expect(before(await createdByMinute(report.generation))).toStrictEqual(before(kept))
  })
})

/**
 * A nats-server of its own with ORDERS and an active generation holding one
 * window (one order created) at `minute`: the buckets as the provision step
 * makes them, or the windows bucket as a release before per-message TTLs made it.
 */
async function withOneWindow(
  buckets: 'provisioned' | 'before TTLs',
  minute: number,
  run: (t: {
    nc: NatsConnection
    jsm: JetStreamManager
    generation: string
    deps: ReplayDeps
  }) => Promise<void>,
): Promise<void> {
  await using server = await startNatsServer({ websocket: false })
  const nc = await connect(server.connectOptions())
  try {
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add(orderStreamConfig(DEFAULT_LIMITS))
    const kvm = new Kvm(nc)
    const store = createAnalyticsStore(
      buckets === 'provisioned'
        ? {
            orders: await ensureBucket(nc, BUCKETS.analyticsOrders, DEFAULT_LIMITS),
            windows: await ensureBucket(nc, BUCKETS.analyticsWindows, DEFAULT_LIMITS),
            jsm,
          }
        : {
            orders: await kvm.create(BUCKETS.analyticsOrders),
            windows: await kvm.create(BUCKETS.analyticsWindows, { history: 1 }),
            jsm,
          },
    )
    const generation = newGeneration(new Date())
    await store.swapMeta(null, { generation, since: new Date().toISOString() })
    await store.putWindow(generation, { ...emptyWindow(minute), created: 1 })
    const logger = createLogger({ service: 't', level: 'silent' })
    await run({ nc, jsm, generation, deps: { jsm, store, logger, durable: 'analytics', marginMs: 0 } })
  } finally {
    await nc.close()
  }
}

describe('replayWindows on a bucket the provision step has not given per-message TTLs yet', () => {
  it('removes the replaced windows with markers that stay, as before, instead of failing', async () => {
    const minute = Date.parse('2026-01-01T10:00:00Z')
    await withOneWindow('before TTLs', minute, async ({ jsm, generation, deps }) => {
      const first = await replayWindows(deps, new Date(0))
      expect({ copied: first.copied, removed: first.removed }).toStrictEqual({ copied: 1, removed: 1 })
      const marker = await jsm.streams.getMessage(`KV_${BUCKETS.analyticsWindows}`, {
        last_by_subj: `$KV.${BUCKETS.analyticsWindows}.${windowKey(generation, minute)}`,
      })
      expect(marker?.header?.get('KV-Operation')).toBe('PURGE')
      expect(marker?.header?.get('Nats-TTL') ?? '').toBe('')
      // The marker is not taken for a window to remove again.
      const second = await replayWindows(deps, new Date(0))
      expect(second.removed).toBe(1)
    })
  })
})

describe('replayWindows on a stream whose every event is gone', () => {
  it('keeps the windows and reads nothing, with the consumer behind what the stream removed', async () => {
    await withOneWindow('provisioned', toMinute(Date.now()), async ({ nc, jsm, deps }) => {
      const seq = (await jetstream(nc).publish('orders.created', '{}')).seq
      expect(await jsm.streams.deleteMessage('ORDERS', seq, false)).toBe(true)
      const report = await replayWindows(deps, new Date(0))
      expect({ events: report.events, copied: report.copied, rebuilt: report.rebuilt }).toStrictEqual({
        events: 0,
        copied: 1,
        rebuilt: 0,
      })
    })
  })
})
