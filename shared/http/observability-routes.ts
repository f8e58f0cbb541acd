import { Hono, type MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import type { HttpMetrics } from '../observability/metrics-port.ts'
import { createCachedCheck } from './cached-check.ts'

/**
 * `/metrics` answers anyone: a scrape within this long of the last rendering
 * gets that rendering, and scrapes that come together share one. A flood of
 * scrapes (tens of KB each, 10-20 ms of a worker's event loop) then costs at
 * most ten renderings a second, and Prometheus sees figures at most this old.
 */
export const METRICS_FRESH_MS = 100

export interface Readiness {
  ok: boolean
  reason?: string
}

export interface ObservabilityDeps {
  metrics: HttpMetrics
  /** Liveness: the process can still do work. */
  isAlive?: () => boolean
  /** Readiness: dependencies answer; must settle quickly (bounded by the caller). */
  checkReady: () => Promise<Readiness>
}

/** `GET /health`, `GET /ready`, `GET /metrics` for every service. */
export function createObservabilityRoutes({ metrics, isAlive = () => true, checkReady }: ObservabilityDeps) {
  const rendered = createCachedCheck<string>(METRICS_FRESH_MS)
  return new Hono()
    .get('/health', (c) => (isAlive() ? c.json({ status: 'ok' }) : c.json({ status: 'failing' }, 503)))
    .get('/ready', async (c) => {
      const readiness = await checkReady()
      return readiness.ok
        ? c.json({ status: 'ready' })
        : c.json({ status: 'not_ready', reason: readiness.reason ?? 'unknown' }, 503)
    })
    .get('/metrics', async (c) => {
      const body = await rendered(() => metrics.registry.metrics())
      return c.body(body, 200, { 'Content-Type': metrics.registry.contentType })
    })
}

/**
 * Counts and times every request by its route pattern (never the raw path);
 * the metrics bound method, route and status to known values (labels.ts). A
 * client that went away counts as status 499.
 */
export function httpMetrics(metrics: HttpMetrics): MiddlewareHandler {
  return async (c, next) => {
    const start = performance.now()
    try {
      await next()
    } finally {
      const labels = {
        method: c.req.method,
        route: routePath(c, -1) || 'unmatched',
        status: String(c.res.status),
      }
      metrics.httpRequests.inc(labels)
      metrics.httpDuration.observe(labels, (performance.now() - start) / 1000)
    }
  }
}

/** Largest body a route of a service without a body of its own accepts. */
export const SMALL_BODY_BYTES = 16 * 1024
