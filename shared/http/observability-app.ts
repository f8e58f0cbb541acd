/**
 * The whole HTTP surface of a worker without routes of its own (payment,
 * order-status). Apart from observability-routes.ts, which the Worker's
 * bundle takes: this one brings the OpenAPI document and its docs page.
 */
import { Hono } from 'hono'
import type { Logger } from '../observability/log.ts'
import { createApiDocsRoutes, type ApiDocsOptions } from './api-docs.ts'
import { limitBody } from './body-limit.ts'
import { createErrorHandler, notFound } from './errors.ts'
import {
  createObservabilityRoutes,
  httpMetrics,
  SMALL_BODY_BYTES,
  type ObservabilityDeps,
} from './observability-routes.ts'
import { observabilityOpenApi } from './openapi-routes.ts'
import { serviceIndex } from './service-index.ts'
import { headAsGet } from './head.ts'
import { securityHeaders } from './security-headers.ts'

export interface ObservabilityAppDeps extends ObservabilityDeps {
  /** Named in `GET /`. */
  service: string
  logger: Pick<Logger, 'error' | 'debug'>
  maxBodyBytes?: number
  /**
   * The docs page's files (`swaggerUiAssets`, given by the service: this
   * module is also in the Worker's bundle, which has no room for them).
   */
  docsAssets: NonNullable<ApiDocsOptions['assets']>
}

/**
 * The HTTP surface of a worker that serves only `GET /`, `/health`, `/ready`,
 * `/metrics` and `/openapi.json`: request metrics, a body limit, a JSON 404
 * and a logged JSON 500.
 */
export function createObservabilityApp({
  service,
  logger,
  maxBodyBytes = SMALL_BODY_BYTES,
  docsAssets,
  ...deps
}: ObservabilityAppDeps): Hono {
  const app = new Hono()
  app.use(headAsGet)
  app.use(securityHeaders)
  app.use(httpMetrics(deps.metrics))
  app.use(limitBody(maxBodyBytes))
  app.get('/', serviceIndex(service, app))
  app.route('/', createObservabilityRoutes(deps))
  const liveness = deps.isAlive !== undefined
  app.route(
    '/',
    createApiDocsRoutes({
      document: () => observabilityOpenApi({ service, maxBodyBytes, liveness }),
      assets: docsAssets,
    }),
  )
  app.notFound(notFound)
  app.onError(createErrorHandler({ logger }))
  return app
}
