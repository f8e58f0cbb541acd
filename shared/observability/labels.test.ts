import { describe, expect, it } from 'vitest'
import { LANE_SUBJECTS, SUBJECTS } from '../../schemas/subjects.ts'
import { ADVISORY_PREFIXES } from '../nats/dead-letter-advisory.ts'
import { ADVISORY_LABEL_PREFIXES, boundLabels, subjectLabel } from './labels.ts'
import { createLightMetrics } from './light-metrics.ts'
import { createMetrics } from './metrics.ts'

const invented = Array.from(
  { length: 50 },
  (_, i) => `orders.invented.${i}.${Math.random().toString(36).slice(2)}`,
)

async function seriesOf(text: Promise<string>, name: string): Promise<string[]> {
  return (await text).split('\n').filter((line) => line.startsWith(`${name}{`))
}

describe('bounded metric labels', () => {
  it('adds no series for 50 invented subjects: they all count as other', async () => {
    const metrics = createMetrics('test')
    metrics.messagesHandled.inc({ consumer: 'inventory', subject: SUBJECTS.orderCreated, outcome: 'ack' })
    for (const subject of invented) {
      metrics.messagesHandled.inc({ consumer: 'inventory', subject, outcome: 'ack' })
      metrics.messageDuration.observe({ consumer: 'inventory', subject }, 0.01)
      metrics.eventsPublished.inc({ subject })
    }

    expect(await seriesOf(metrics.registry.metrics(), 'messages_handled_total')).toStrictEqual([
      'messages_handled_total{consumer="inventory",subject="orders.created",outcome="ack",service="test"} 1',
      'messages_handled_total{consumer="inventory",subject="other",outcome="ack",service="test"} 50',
    ])
    expect(await seriesOf(metrics.registry.metrics(), 'message_handle_duration_seconds_count')).toHaveLength(
      1,
    )
    expect(await seriesOf(metrics.registry.metrics(), 'events_published_total')).toStrictEqual([
      'events_published_total{subject="other",service="test"} 50',
    ])
  })

  it('adds no series for invented methods, statuses or raw paths, at the edge too', async () => {
    for (const metrics of [createMetrics('test'), createLightMetrics('test')]) {
      for (let i = 0; i < 50; i++) {
        const labels = { method: `M${i}`, route: `/${'x'.repeat(64 + i)}`, status: `9${i}` }
        metrics.httpRequests.inc(labels)
        metrics.httpDuration.observe(labels, 0.001)
      }
      expect(await seriesOf(metrics.registry.metrics(), 'http_requests_total')).toStrictEqual([
        'http_requests_total{method="other",route="other",status="other",service="test"} 50',
      ])
    }
  })

  it('keeps every saga subject, its dead-letter subject and an advisory by its kind', () => {
    for (const subject of Object.values(SUBJECTS)) {
      expect(subjectLabel(subject)).toBe(subject)
      expect(subjectLabel(`dlq.${subject}`)).toBe(`dlq.${subject}`)
    }
    expect(subjectLabel(`${ADVISORY_PREFIXES.maxDeliveries}.ORDERS.inventory`)).toBe(
      ADVISORY_PREFIXES.maxDeliveries,
    )
    expect(subjectLabel('dlq.orders.invented')).toBe('other')
    expect(subjectLabel('orders.created.priority')).toBe('other')
    expect(subjectLabel('$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES')).toBe('other')
  })

  it("keeps the express lane's subjects apart from the standard ones", () => {
    for (const subject of LANE_SUBJECTS) {
      expect(subjectLabel(`${subject}.express`)).toBe(`${subject}.express`)
      expect(subjectLabel(`dlq.${subject}.express`)).toBe(`dlq.${subject}.express`)
    }
  })

  it('names the same advisories the dead-letter capture reads', () => {
    expect([...ADVISORY_LABEL_PREFIXES].sort()).toStrictEqual(Object.values(ADVISORY_PREFIXES).sort())
  })

  it('leaves labels it does not know as they are and maps the catch-all route to unmatched', () => {
    expect(boundLabels({ consumer: 'payment', outcome: 'nak', route: '/*', method: 'GET' })).toStrictEqual({
      consumer: 'payment',
      outcome: 'nak',
      route: 'unmatched',
      method: 'GET',
    })
  })
})
