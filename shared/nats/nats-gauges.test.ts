import type { JetStreamManager } from '@nats-io/jetstream'
import { describe, expect, it } from 'vitest'
import { DEAD_LETTER_ORIGINS } from '../observability/labels.ts'
import { createLogger } from '../observability/logger.ts'
import { createMetrics } from '../observability/metrics.ts'
import { createNatsGauges } from './nats-gauges.ts'

describe('JetStream gauges on /metrics', () => {
  it('wait one timeout for a scrape while NATS does not answer, not one per lookup', async () => {
    const asked: string[] = []
    const never = new Promise<never>(() => undefined)
    const jsm = {
      consumers: { info: (stream: string, durable: string) => (asked.push(`${stream} > ${durable}`), never) },
      streams: { info: (stream: string) => (asked.push(stream), never) },
    } as unknown as JetStreamManager
    const metrics = createMetrics('t')
    const gauges = createNatsGauges({
      jsm,
      registry: metrics.registry,
      logger: createLogger({ service: 't', level: 'silent' }),
      timeoutMs: 500,
    })
    gauges.track('inventory')
    gauges.track('inventory-deadlines', 'DEADLINES')
    const started = performance.now()
    const text = await metrics.registry.metrics()
    const tookMs = performance.now() - started
    expect(tookMs).toBeGreaterThanOrEqual(450)
    // One after the other (the consumers, then the DLQ) would be 1,000 ms.
    expect(tookMs).toBeLessThan(900)
    expect(asked.sort()).toStrictEqual(['DEADLINES > inventory-deadlines', 'DLQ', 'ORDERS > inventory'])
    expect(text).toContain('consumer_pending_messages')
  })

  it('reports every saga subject in dead_letters_waiting from the start, and a purged one at 0', async () => {
    let subjects: Record<string, number> = { 'dlq.orders.created': 2, 'dlq.invented.subject': 1 }
    const jsm = {
      consumers: { info: () => Promise.reject(new Error('none')) },
      streams: { info: () => Promise.resolve({ state: { subjects } }) },
    } as unknown as JetStreamManager
    const metrics = createMetrics('t')
    createNatsGauges({
      jsm,
      registry: metrics.registry,
      logger: createLogger({ service: 't', level: 'silent' }),
    })
    const waiting = async (): Promise<Record<string, number>> =>
      Object.fromEntries(
        (await metrics.registry.getMetricsAsJSON())
          .find((m) => m.name === 'dead_letters_waiting')
          ?.values.map((v): [string, number] => [String(v.labels['subject']), v.value]) ?? [],
      )
    const zero = Object.fromEntries(DEAD_LETTER_ORIGINS.map((subject) => [subject, 0]))
    expect(DEAD_LETTER_ORIGINS).toContain('payments.completed.express')
    expect(await waiting()).toStrictEqual({ ...zero, 'orders.created': 2, other: 1 })
    subjects = {}
    // A scrape's reads are shared for a second.
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    expect(await waiting()).toStrictEqual({ ...zero, other: 0 })
  })
})
