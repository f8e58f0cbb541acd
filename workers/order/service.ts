import { BUCKETS } from '../../schemas/subjects.ts'
import { createApiDocsRoutes } from '../../shared/http/api-docs.ts'
import { createApiKeyVerifier } from '../../shared/http/api-keys.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import { swaggerUiAssets } from '../../shared/http/swagger-ui-assets.ts'
import type { ConnectFn } from '../../shared/nats/connect.ts'
import type { RunningConsumer } from '../../shared/nats/consumer.ts'
import { openBucket, startNatsRuntime, toStoppable, type Stoppable } from '../../shared/nats/runtime.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import type { Tracer } from '../../shared/observability/tracing.ts'
import { importNodeAesGcmKey } from '../../shared/security/aes-gcm-node.ts'
import { fingerprinterFromSettings } from '../../shared/security/request-fingerprint.ts'
import { createTokenSealer } from '../../shared/security/sealed-token.ts'
import { createApp } from './app.ts'
import { orderOpenApi } from './openapi.ts'
import type { OrderConfig } from './config.ts'
import { createNatsOrderStore, FRESH_ORDER_MS } from './order-store.ts'
import { createRecentOrders } from './recent-orders.ts'
import { startProjection } from './projection.ts'

export interface OrderService extends Stoppable {
  app: ReturnType<typeof createApp>
}

/** Wires the order service onto NATS: streams, buckets, the status projection (unless off) and the HTTP app. */
export async function startOrderService(
  config: OrderConfig,
  deps: { connect: ConnectFn; logger: Logger; metrics: Metrics; tracer?: Tracer },
): Promise<OrderService> {
  // Key material first: a public key that does not import stops the service before it connects.
  const sealer = await createTokenSealer(config.PAYMENT_TOKEN_PUBLIC_KEY, {
    importAesGcmKey: importNodeAesGcmKey,
  })
  const rt = await startNatsRuntime('order', config, deps)
  const statusKv = await openBucket(rt, BUCKETS.orderStatus)
  const idempotencyKv = await openBucket(rt, BUCKETS.idempotency)

  // Off when the projection runs as its own service (`order-status`).
  const projection: RunningConsumer | undefined =
    config.ORDER_PROJECTION === 'on' ? await startProjection(rt, statusKv) : undefined

  if (config.IDEMPOTENCY_FINGERPRINT_KEY === undefined) {
    deps.logger.warn(
      config.NATS_NKEY_SEED === undefined
        ? 'IDEMPOTENCY_FINGERPRINT_KEY unset and no NATS identity: idempotency records keep a plain digest of the request'
        : 'IDEMPOTENCY_FINGERPRINT_KEY unset: the idempotency digest key is derived from this intake’s NATS seed; give every intake the same key',
    )
  }
  const store = createNatsOrderStore({
    js: rt.js,
    nc: rt.nc,
    sealer,
    fingerprinter: fingerprinterFromSettings(config.IDEMPOTENCY_FINGERPRINT_KEY, config.NATS_NKEY_SEED),
    statusKv,
    idempotencyKv,
    isConnected: rt.nats.isConnected,
    metrics: deps.metrics,
    timeoutMs: config.NATS_REQUEST_TIMEOUT_MS,
    laneSignals: rt.laneSignals,
    statusWaitMs: config.ORDER_STATUS_WAIT_MS,
    versions: config.ORDER_CREATED_VERSIONS,
    recent: createRecentOrders({ ttlMs: FRESH_ORDER_MS }),
  })
  const app = createApp({
    store,
    logger: deps.logger,
    metrics: deps.metrics,
    checkReady: rt.readiness.check,
    verifier: createApiKeyVerifier(config.API_KEYS),
    limiter: createRateLimiter({ perSecond: config.RATE_LIMIT_PER_SECOND, burst: config.RATE_LIMIT_BURST }),
    maxBodyBytes: config.ORDER_MAX_BODY_BYTES,
    expressKeys: config.ORDER_EXPRESS_KEYS,
    currency: config.ORDER_CURRENCY,
    retryAfterSeconds: config.ORDER_RETRY_AFTER_SECONDS,
    apiDocs: createApiDocsRoutes({ document: orderOpenApi, assets: swaggerUiAssets }),
    tracer: rt.tracer,
  })

  return { app, ...toStoppable(rt, [projection]) }
}
