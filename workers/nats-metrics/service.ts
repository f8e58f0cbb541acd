/*
 * nats-server's own metrics for Prometheus: each scrape of GET /metrics asks
 * every server in NATS_MONITOR_URLS for /varz and /jsz (bounded by
 * NATS_MONITOR_TIMEOUT_MS) and answers them in Prometheus text
 * (render.ts). Stands in for prometheus-nats-exporter, whose image cannot be
 * had offline; it runs from the same binary as the workers.
 */
import { Hono } from 'hono'
import { createErrorHandler, notFound } from '../../shared/http/errors.ts'
import { shownUrl } from '../../shared/config/shown-url.ts'
import { serviceIndex } from '../../shared/http/service-index.ts'
import type { Logger } from '../../shared/observability/log.ts'
import type { RunningService } from '../../shared/runtime/run-service.ts'
import type { NatsMetricsConfig } from './config.ts'
import { renderNatsMetrics, type Jsz, type NodeSample, type Varz } from './render.ts'
import { headAsGet } from '../../shared/http/head.ts'
import { securityHeaders } from '../../shared/http/security-headers.ts'
import { createCachedCheck } from '../../shared/http/cached-check.ts'

const JSZ_QUERY = '/jsz?accounts=true&streams=true&consumers=true&leader_only=true'

/**
 * `/metrics` answers anyone, and each rendering asks every server for its
 * streams and consumers: a scrape within this long of the last one gets its
 * answer, and scrapes that come together share one. Prometheus scrapes every
 * 15 s or so; a flood costs the servers at most one `/jsz` a second each.
 */
export const NATS_METRICS_FRESH_MS = 1_000

export interface NatsMetricsDeps {
  logger: Logger
  fetch?: typeof fetch
}

export function createNatsMetricsApp(
  {
    NATS_MONITOR_URLS: urls,
    NATS_MONITOR_TIMEOUT_MS: timeoutMs,
  }: Pick<NatsMetricsConfig, 'NATS_MONITOR_URLS' | 'NATS_MONITOR_TIMEOUT_MS'>,
  { logger, fetch: doFetch = fetch }: NatsMetricsDeps,
): Hono {
  async function read<T>(url: string): Promise<T | undefined> {
    try {
      const res = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs) })
      if (res.status !== 200) throw new Error(`answered ${res.status}`)
      return (await res.json()) as T
    } catch (error) {
      // The URL may carry a user and password: neither it nor an error that may quote it is logged as it is.
      const shown = shownUrl(url)
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      logger.warn(
        { url: shown, reason: reason.split(url).join(shown) },
        'nats-server monitoring endpoint not answering',
      )
      return undefined
    }
  }
  const sample = async (url: string): Promise<NodeSample> => {
    const base = url.replace(/\/+$/, '')
    const [varz, jsz] = await Promise.all([read<Varz>(`${base}/varz`), read<Jsz>(`${base}${JSZ_QUERY}`)])
    return { url: shownUrl(url), varz, jsz }
  }

  const app = new Hono()
  app.use(headAsGet)
  app.use(securityHeaders)
  app.notFound(notFound)
  app.onError(createErrorHandler({ logger }))
  app.get('/', serviceIndex('nats-metrics', app, { servers: urls.map(shownUrl) }))
  app.get('/health', (c) => c.json({ status: 'ok' }))
  app.get('/ready', (c) => c.json({ status: 'ready' }))
  const rendered = createCachedCheck<string>(NATS_METRICS_FRESH_MS)
  const render = async () => renderNatsMetrics(await Promise.all(urls.map(sample)))
  app.get('/metrics', async (c) => {
    return c.text(await rendered(render), 200, {
      'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
    })
  })
  return app
}

export function startNatsMetricsService(
  config: NatsMetricsConfig,
  deps: NatsMetricsDeps,
): Promise<RunningService> {
  const app = createNatsMetricsApp(config, deps)
  return Promise.resolve({
    app,
    markStopping: () => undefined,
    stopConsuming: () => Promise.resolve(),
    close: () => Promise.resolve(),
  })
}
