import { describe, expect, it } from 'vitest'
import { CancellationReasonSchema } from '../../schemas/events.ts'
import { Registry } from '../../shared/observability/prom.ts'
import { createAnalyticsMetrics } from './analytics-metrics.ts'
import type { AnalyticsEvent } from './domain.ts'
import { PauseConsumption } from '../../shared/nats/consumer.ts'
import { createLiveApplier } from './handlers.ts'

const lagOf = async (registry: Registry): Promise<number | undefined> =>
  (await registry.getMetricsAsJSON()).find((m) => m.name === 'analytics_event_lag_seconds')?.values[0]?.value

/** The live applier of generation g1 over `store`, its metrics in `registry`, its feed dropped. */
const liveApplier = (registry: Registry, store: Parameters<typeof createLiveApplier>[0]['store']) =>
  createLiveApplier({
    store,
    generation: 'g1',
    metrics: createAnalyticsMetrics({ registry }),
    feed: { publish: () => undefined },
  })

describe('analytics_event_lag_seconds', () => {
  const event = (at: number): AnalyticsEvent => ({
    kind: 'cancelled',
    orderId: 'o-1',
    at,
    reason: 'out_of_stock',
  })

  it('is the last event time behind now while events are left, and 0 once caught up', async () => {
    const registry = new Registry()
    // Every event already recorded: only the position moves.
    const apply = liveApplier(registry, {
      record: () => Promise.resolve(null),
      apply: () => Promise.resolve(null),
    })
    await apply(event(Date.now() - 30_000), 1, 5)
    expect(await lagOf(registry)).toBeGreaterThanOrEqual(29)
    await apply(event(Date.now() - 20_000), 2, 0)
    expect(await lagOf(registry)).toBe(0)
    // A replay (no pending count) leaves the live figure alone.
    await apply(event(Date.now() - 60_000), 3)
    expect(await lagOf(registry)).toBe(0)
  })

  it('grows while an event stays in hand because its window write fails (a full windows bucket), nothing queued behind it', async () => {
    const registry = new Registry()
    let full = true
    const apply = liveApplier(registry, {
      record: () => Promise.resolve({ minute: 0 }),
      apply: () => (full ? Promise.reject(new Error('maximum bytes exceeded')) : Promise.resolve(null)),
    })
    const stuck = event(Date.now() - 40_000)
    await expect(apply(stuck, 1, 0)).rejects.toThrow('maximum bytes exceeded')
    expect(await lagOf(registry)).toBeGreaterThanOrEqual(39)
    full = false
    await apply(stuck, 1, 0)
    expect(await lagOf(registry)).toBe(0)
  })

  it('grows while an event stays in hand because its writes fail, though the last one applied caught up', async () => {
    const registry = new Registry()
    let failing = true
    const apply = liveApplier(registry, {
      record: () => (failing ? Promise.reject(new Error('maximum bytes exceeded')) : Promise.resolve(null)),
      apply: () => Promise.resolve(null),
    })
    failing = false
    await apply(event(Date.now()), 1, 0)
    expect(await lagOf(registry)).toBe(0)
    failing = true
    const stuck = event(Date.now() - 40_000)
    await expect(apply(stuck, 2, 0)).rejects.toThrow('maximum bytes exceeded')
    expect(await lagOf(registry)).toBeGreaterThanOrEqual(39)
    // Read when scraped: it keeps growing while the event waits.
    const first = (await lagOf(registry)) ?? 0
    await new Promise((r) => setTimeout(r, 1_100))
    expect(await lagOf(registry)).toBeGreaterThan(first + 1)
    failing = false
    await apply(stuck, 2, 0)
    expect(await lagOf(registry)).toBe(0)
  })
})

describe('analytics_orders_cancelled_total', () => {
  it('has a series at 0 for every cancellation reason from the start', async () => {
    const registry = new Registry()
    createAnalyticsMetrics({ registry })
    const family = (await registry.getMetricsAsJSON()).find(
      (m) => m.name === 'analytics_orders_cancelled_total',
    )
    expect(family?.values.map((v) => [v.labels['reason'], v.value]).sort()).toStrictEqual(
      [...CancellationReasonSchema.options].sort().map((reason) => [reason, 0]),
    )
  })
})

describe('the live applier of a generation no longer active', () => {
  it('hands the event back unapplied (PauseConsumption), touching neither the facts nor the windows', async () => {
    const touched: string[] = []
    const apply = createLiveApplier({
      store: {
        record: () => {
          touched.push('record')
          return Promise.resolve(null)
        },
        apply: () => {
          touched.push('apply')
          return Promise.resolve(null)
        },
      },
      generation: 'g1',
      metrics: createAnalyticsMetrics({ registry: new Registry() }),
      feed: { publish: () => undefined },
      stillActive: () => Promise.resolve(false),
    })
    const event: AnalyticsEvent = {
      kind: 'cancelled',
      orderId: 'o-1',
      at: Date.now(),
      reason: 'out_of_stock',
    }
    await expect(apply(event, 7, 0)).rejects.toBeInstanceOf(PauseConsumption)
    expect(touched).toStrictEqual([])
  })
})
