import { describe, expect, it } from 'vitest'
import { createLightMetrics } from './light-metrics.ts'

describe('createLightMetrics', () => {
  it('renders counters and durations as Prometheus text with the service label', async () => {
    const metrics = createLightMetrics('order-edge')
    const labels = { method: 'POST', route: '/orders', status: '202' }
    metrics.httpRequests.inc(labels)
    metrics.httpRequests.inc(labels)
    metrics.httpDuration.observe(labels, 0.25)
    metrics.httpDuration.observe(labels, 0.5)
    metrics.eventsPublished.inc({ subject: 'orders.created' }, 3)
    const text = await metrics.registry.metrics()
    expect(text).toContain('# TYPE http_requests_total counter')
    expect(text).toContain(
      'http_requests_total{method="POST",route="/orders",status="202",service="order-edge"} 2',
    )
    expect(text).toContain(
      'http_request_duration_seconds_sum{method="POST",route="/orders",status="202",service="order-edge"} 0.75',
    )
    expect(text).toContain(
      'http_request_duration_seconds_count{method="POST",route="/orders",status="202",service="order-edge"} 2',
    )
    expect(text).toContain('events_published_total{subject="orders.created",service="order-edge"} 3')
    expect(metrics.registry.contentType).toMatch(/^text\/plain/)
  })

  it('escapes label values', async () => {
    const metrics = createLightMetrics('s')
    metrics.httpRequests.inc({ method: 'GET', route: 'a"b\\c', status: '200' })
    expect(await metrics.registry.metrics()).toContain('route="a\\"b\\\\c"')
  })
})
