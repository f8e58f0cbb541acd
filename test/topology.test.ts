// Provisioning on a real server: the configured size caps apply to new and to
// existing buckets, and a full bucket's writes fail with a clear error;
// consumer filters follow the configuration; a consumer split off another
// starts where the other had got to.
import { DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { headers, type NatsConnection } from '@nats-io/nats-core'
import { Kvm } from '@nats-io/kv'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BUCKETS } from '../schemas/subjects.ts'
import { loadOrderStatusConfig } from '../workers/order/status-config.ts'
import { toTopologyLimits } from '../shared/config/nats-settings.ts'
import {
  DEFAULT_LIMITS,
  durableConsumerConfig,
  ensureBucket,
  ensureConsumer,
  ensureStreams,
  orderStreamConfig,
} from '../shared/nats/topology.ts'
import { ensureSagaConsumer, SAGA_CONSUMERS } from '../shared/nats/saga-consumers.ts'
import {
  compareVersions,
  RELEASE_METADATA_KEY,
  watchConsumerConfig,
} from '../shared/nats/consumer-config-watch.ts'
import type { Logger } from '../shared/observability/log.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'
import { waitFor } from './harness/wait-for.ts'

const MiB = 1024 * 1024
let server: NatsServerHandle
let nc: NatsConnection
let jsm: JetStreamManager

beforeAll(async () => {
  server = await startNatsServer()
  nc = await connect(server.connectOptions())
  jsm = await jetstreamManager(nc)
})

afterAll(async () => {
  await nc?.close().catch(() => undefined)
  await server?.dispose()
})

const maxBytesOf = async (bucket: string): Promise<number> =>
  (await jsm.streams.info(`KV_${bucket}`)).config.max_bytes

describe('KV bucket size caps', () => {
  it('come from KV_*_MAX_BYTES, default to DEFAULT_LIMITS, and reach an existing bucket', async () => {
    const defaults = toTopologyLimits(loadOrderStatusConfig({ NATS_URL: server.url }))
    expect(defaults.bucketMaxBytes).toStrictEqual(DEFAULT_LIMITS.bucketMaxBytes)
    await ensureBucket(nc, BUCKETS.orderStatus, defaults)
    expect(await maxBytesOf(BUCKETS.orderStatus)).toBe(DEFAULT_LIMITS.bucketMaxBytes[BUCKETS.orderStatus])

    const raised = toTopologyLimits(
      loadOrderStatusConfig({ NATS_URL: server.url, KV_ORDER_STATUS_MAX_BYTES: String(4096 * MiB) }),
    )
    await ensureBucket(nc, BUCKETS.orderStatus, raised)
    expect(await maxBytesOf(BUCKETS.orderStatus)).toBe(4096 * MiB)
  })

  it('rejects a cap below 1 MiB at start, naming the variable', () => {
    expect(() => loadOrderStatusConfig({ NATS_URL: server.url, KV_STOCK_MAX_BYTES: '1000' })).toThrow(
      /KV_STOCK_MAX_BYTES/,
    )
  })

  it('a full bucket refuses writes with "maximum bytes exceeded"', async () => {
    const limits = {
      ...DEFAULT_LIMITS,
      bucketMaxBytes: { ...DEFAULT_LIMITS.bucketMaxBytes, [BUCKETS.stock]: MiB },
    }
    const kv = await ensureBucket(nc, BUCKETS.stock, limits)
    const value = 'x'.repeat(64 * 1024)
    const write = async (): Promise<void> => {
      for (let i = 0; i < 64; i++) await kv.put(`SKU-${i}`, value)
    }
    await expect(write()).rejects.toThrow(/maximum bytes exceeded/)
  })
})

describe('KV bucket roll-up headers', () => {
  it('are off but where keys are purged, also on a bucket an earlier release made with them on', async () => {
    const js = jetstream(nc, { timeout: 2_000 })
    const rollupAll = async (bucket: string): Promise<string | undefined> => {
      const h = headers()
      h.set('Nats-Rollup', 'all')
      return await js.publish(`$KV.${bucket}.wipe`, 'x', { headers: h }).then(
        () => undefined,
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      )
    }
    const decisions = await ensureBucket(nc, BUCKETS.decisions, DEFAULT_LIMITS)
    await decisions.put('kept', '1')
    expect(await rollupAll(BUCKETS.decisions)).toMatch(/rollup not permitted/)
    expect((await decisions.get('kept'))?.string()).toBe('1')
    // What nats.js makes (and an earlier release kept): roll-ups allowed. Turned off by the next ensure.
    const stream = `KV_${BUCKETS.reservations}`
    await new Kvm(nc).create(BUCKETS.reservations, { history: 1 })
    expect((await jsm.streams.info(stream)).config.allow_rollup_hdrs).toBe(true)
    await ensureBucket(nc, BUCKETS.reservations, DEFAULT_LIMITS)
    expect((await jsm.streams.info(stream)).config.allow_rollup_hdrs).toBe(false)
    // The analytics windows are purged key by key: a purge works there.
    const windows = await ensureBucket(nc, BUCKETS.analyticsWindows, DEFAULT_LIMITS)
    await windows.put('w.old', '1')
    await windows.purge('w.old')
    expect((await jsm.streams.info(`KV_${BUCKETS.analyticsWindows}`)).config.allow_rollup_hdrs).toBe(true)
  })
})

describe('durable consumer filters', () => {
  it('follow the configuration across updates: many, one, none (every subject)', async () => {
    await ensureStreams(jsm, DEFAULT_LIMITS)
    const steps: [string[], string, string[]][] = [
      [['orders.>', 'inventory.>', 'payments.>'], '', ['orders.>', 'inventory.>', 'payments.>']],
      [['orders.created'], 'orders.created', []],
      [['orders.>', 'payments.>'], '', ['orders.>', 'payments.>']],
      [[], '', []],
      [['inventory.reserved'], 'inventory.reserved', []],
      [[], '', []],
    ]
    for (const [filters, subject, subjects] of steps) {
      await ensureConsumer(jsm, 'ORDERS', durableConsumerConfig('filters-test', filters, DEFAULT_LIMITS))
      const { config } = await jsm.consumers.info('ORDERS', 'filters-test')
      expect([config.filter_subject ?? '', config.filter_subjects ?? []]).toStrictEqual([subject, subjects])
    }
  })
})

describe('the analytics consumer', () => {
  it('has no delivery limit, also when an earlier release created it with one', async () => {
    await ensureStreams(jsm, DEFAULT_LIMITS)
    const { filters } = SAGA_CONSUMERS.analytics
    await ensureConsumer(jsm, 'ORDERS', durableConsumerConfig('analytics', filters, DEFAULT_LIMITS))
    expect((await jsm.consumers.info('ORDERS', 'analytics')).config.max_deliver).toBe(
      DEFAULT_LIMITS.maxDeliver,
    )
    await ensureSagaConsumer(jsm, 'analytics', DEFAULT_LIMITS)
    const { config } = await jsm.consumers.info('ORDERS', 'analytics')
    expect([config.max_deliver, config.max_ack_pending]).toStrictEqual([-1, 1])
  })
})

describe("a saga consumer's filters, changed by another process", () => {
  const silent = { warn: () => undefined, debug: () => undefined } as unknown as Logger
  const watch = (release: string, { logger = silent, intervalMs = 60_000 } = {}) =>
    watchConsumerConfig({
      jsm,
      stream: 'ORDERS',
      durable: 'order-status',
      filters: SAGA_CONSUMERS['order-status'].filters,
      release,
      restore: () => ensureSagaConsumer(jsm, 'order-status', DEFAULT_LIMITS, release, { yieldToNewer: true }),
      logger,
      intervalMs,
    })
  const filtersNow = async () => {
    const { config } = await jsm.consumers.info('ORDERS', 'order-status')
    return {
      filter: config.filter_subject ?? '',
      filters: config.filter_subjects ?? [],
      meta: config.metadata,
    }
  }

  it('are put back when an earlier release opened them to every subject, and left to a later release', async () => {
    await ensureStreams(jsm, DEFAULT_LIMITS)
    await ensureSagaConsumer(jsm, 'order-status', DEFAULT_LIMITS, '0.2.0')
    const ours = await filtersNow()
    expect(ours.filters).toStrictEqual([...SAGA_CONSUMERS['order-status'].filters])
    expect(ours.meta?.[RELEASE_METADATA_KEY]).toBe('0.2.0')

    // What a worker of the previous release does at its start: no filter at all.
    await jsm.consumers.update('ORDERS', 'order-status', { filter_subject: '', filter_subjects: [] })
    expect(await filtersNow()).toMatchObject({ filter: '', filters: [] })
    const watcher = watch('0.2.0')
    try {
      expect(await watcher.check()).toBe(true)
      expect((await filtersNow()).filters).toStrictEqual([...SAGA_CONSUMERS['order-status'].filters])
      expect(await watcher.check()).toBe(false)

      // A later release's filters (its metadata says so) are not undone.
      await jsm.consumers.update('ORDERS', 'order-status', {
        filter_subject: '',
        filter_subjects: ['orders.>'],
        metadata: { [RELEASE_METADATA_KEY]: '0.3.0' },
      })
      expect(await watcher.check()).toBe(false)
      expect((await filtersNow()).filters).toStrictEqual(['orders.>'])
      // Nor by a worker of this release starting: only this release's provision step takes it back.
      await ensureSagaConsumer(jsm, 'order-status', DEFAULT_LIMITS, '0.2.0', { yieldToNewer: true })
      expect((await filtersNow()).filters).toStrictEqual(['orders.>'])
      await ensureSagaConsumer(jsm, 'order-status', DEFAULT_LIMITS, '0.2.0')
      expect(await filtersNow()).toMatchObject({
        filters: [...SAGA_CONSUMERS['order-status'].filters],
        meta: { [RELEASE_METADATA_KEY]: '0.2.0' },
      })
    } finally {
      await watcher.stop()
      await ensureSagaConsumer(jsm, 'order-status', DEFAULT_LIMITS, '0.2.0')
    }
  })

  it('are put back by the timer itself, with one warning, and no more once it stops', async () => {
    await ensureSagaConsumer(jsm, 'order-status', DEFAULT_LIMITS, '0.2.0')
    const warnings: string[] = []
    const logger = { warn: (_: unknown, msg: string) => warnings.push(msg), debug: () => undefined }
    const watcher = watch('0.2.0', { logger: logger as unknown as Logger, intervalMs: 100 })
    try {
      await jsm.consumers.update('ORDERS', 'order-status', { filter_subject: '', filter_subjects: [] })
      await waitFor(async () => (await filtersNow()).filters.length > 0, {
        timeoutMs: 5_000,
        intervalMs: 50,
        message: 'filters put back by the timer',
      })
      expect((await filtersNow()).filters).toStrictEqual([...SAGA_CONSUMERS['order-status'].filters])
      expect(warnings).toHaveLength(1)
    } finally {
      await watcher.stop()
    }
    await jsm.consumers.update('ORDERS', 'order-status', { filter_subject: '', filter_subjects: [] })
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(await filtersNow()).toMatchObject({ filter: '', filters: [] })
    await ensureSagaConsumer(jsm, 'order-status', DEFAULT_LIMITS, '0.2.0')
  })

  it('compares releases by number', () => {
    expect(compareVersions('0.10.0', '0.9.1')).toBeGreaterThan(0)
    expect(compareVersions('0.2.0', '0.2.0')).toBe(0)
    expect(compareVersions('0.1.9', '0.2.0')).toBeLessThan(0)
    expect(compareVersions('1.0.0-rc.1', '1.0.0')).toBe(0)
  })
})

describe('a consumer split off another', () => {
  const STREAM = 'SPLIT_TEST'
  const legacyFilters = ['split.created', 'split.paid', 'split.failed']

  beforeAll(async () => {
    await jsm.streams.add({ name: STREAM, subjects: ['split.>'] })
    const js = jetstream(nc)
    // 1 created, 2 paid, 3 other, 4 failed, 5 paid
    for (const subject of ['split.created', 'split.paid', 'split.other', 'split.failed', 'split.paid'])
      await js.publish(subject, subject)
    await ensureConsumer(jsm, STREAM, durableConsumerConfig('legacy', legacyFilters, DEFAULT_LIMITS))
    // The old worker handled 1, 2 and (out of order) 5; 4 is still unacked.
    const legacy = await js.consumers.get(STREAM, 'legacy')
    const batch = await legacy.fetch({ max_messages: 4, expires: 2_000 })
    for await (const m of batch) if (m.seq !== 4) m.ack()
    // The floor passes over 3, which the legacy consumer does not deliver.
    await waitFor(async () => (await jsm.consumers.info(STREAM, 'legacy')).ack_floor.stream_seq === 3, {
      message: 'the legacy ack floor at 3',
    })
  })

  it('starts after the ack floor of the one that delivered its subjects, and keeps that start', async () => {
    const config = durableConsumerConfig('split-payments', ['split.paid', 'split.failed'], DEFAULT_LIMITS)
    await ensureConsumer(jsm, STREAM, config, { splitFrom: 'legacy' })
    const created = await jsm.consumers.info(STREAM, 'split-payments')
    expect(created.config.deliver_policy).toBe(DeliverPolicy.StartSequence)
    expect(created.config.opt_start_seq).toBe(4)
    // 4 (unacked) and 5 (acked out of order: handlers are idempotent) come again.
    expect(created.num_pending).toBe(2)

    // The legacy consumer is narrowed; the split one is provisioned again at the next start.
    await ensureConsumer(jsm, STREAM, durableConsumerConfig('legacy', ['split.created'], DEFAULT_LIMITS))
    await ensureConsumer(jsm, STREAM, config, { splitFrom: 'legacy' })
    const again = await jsm.consumers.info(STREAM, 'split-payments')
    expect([again.config.deliver_policy, again.config.opt_start_seq]).toStrictEqual([
      DeliverPolicy.StartSequence,
      4,
    ])
  })

  it('starts at the beginning when the other does not deliver its subjects, or does not exist', async () => {
    for (const splitFrom of ['legacy', 'no-such-consumer']) {
      await ensureConsumer(jsm, STREAM, durableConsumerConfig('legacy', ['split.created'], DEFAULT_LIMITS))
      const durable = `fresh-from-${splitFrom}`
      await ensureConsumer(jsm, STREAM, durableConsumerConfig(durable, ['split.paid'], DEFAULT_LIMITS), {
        splitFrom,
      })
      const info = await jsm.consumers.info(STREAM, durable)
      expect([info.config.deliver_policy, info.num_pending]).toStrictEqual([DeliverPolicy.All, 2])
    }
  })
})

describe('ORDERS and its headers', () => {
  it('is made without schedules or roll-ups; one an earlier release made keeps both, and says so', async () => {
    const fresh = await ensureStreams(jsm, DEFAULT_LIMITS)
    expect([fresh.allow_msg_schedules ?? false, fresh.allow_rollup_hdrs]).toStrictEqual([false, false])
    // As a release that kept the deadlines in ORDERS provisioned it, on a server of its own.
    const old = await startNatsServer()
    const oldNc = await connect(old.connectOptions())
    try {
      const oldJsm = await jetstreamManager(oldNc)
      await oldJsm.streams.add({ ...orderStreamConfig(DEFAULT_LIMITS), allow_msg_schedules: true })
      const kept = await ensureStreams(oldJsm, DEFAULT_LIMITS)
      expect([kept.allow_msg_schedules, kept.allow_rollup_hdrs]).toStrictEqual([true, true])
    } finally {
      await oldNc.close()
      await old.dispose()
    }
  })
})
