import { BUCKETS } from '../../schemas/subjects.ts'
import { swaggerUiAssets } from '../../shared/http/swagger-ui-assets.ts'
import { createObservabilityApp } from '../../shared/http/observability-app.ts'
import type { ConnectFn } from '../../shared/nats/connect.ts'
import { openBucket, startNatsRuntime, toStoppable, type Stoppable } from '../../shared/nats/runtime.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import type { Tracer } from '../../shared/observability/tracing.ts'
import { startProjection } from './projection.ts'
import type { OrderStatusConfig } from './status-config.ts'

/**
 * The order-status projection on its own: consumes every order event into
 * the order-status bucket that `GET /orders/{id}` reads, and serves only
 * `GET /`, `/health`, `/ready` and `/metrics`. Run it with `ORDER_PROJECTION=off` on
 * the order services so the intake does nothing but take orders.
 */
export async function startOrderStatusService(
  config: OrderStatusConfig,
  deps: { connect: ConnectFn; logger: Logger; metrics: Metrics; tracer?: Tracer },
): Promise<Stoppable & { app: ReturnType<typeof createObservabilityApp> }> {
  const rt = await startNatsRuntime('order-status', config, deps)
  const projection = await startProjection(rt, await openBucket(rt, BUCKETS.orderStatus))
  const app = createObservabilityApp({
    docsAssets: swaggerUiAssets,
    service: 'order-status',
    metrics: deps.metrics,
    logger: deps.logger,
    checkReady: rt.readiness.check,
  })
  return { app, ...toStoppable(rt, [projection]) }
}
