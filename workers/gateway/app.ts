import { Hono, type Context } from 'hono'
import { traceRequests } from '../../shared/http/tracing.ts'
import { createPropagatingTracer, type Tracer } from '../../shared/observability/tracing.ts'
import { createApiDocsRoutes } from '../../shared/http/api-docs.ts'
import { createSecretVerifier } from '../../shared/http/api-keys.ts'
import { hasApiKey, requireApiKey, type AuthEnv } from '../../shared/http/auth.ts'
import { limitBody, limitDeclaredBody } from '../../shared/http/body-limit.ts'
import { createErrorHandler, notFound } from '../../shared/http/errors.ts'
import { readJsonBody, unsupportedJsonBody } from '../../shared/http/json-body.ts'
import { readOnlyFilter } from '../../shared/http/query-filter.ts'
import { createObservabilityRoutes, httpMetrics } from '../../shared/http/observability-routes.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import { serviceIndex } from '../../shared/http/service-index.ts'
import { swaggerUiAssets } from '../../shared/http/swagger-ui-assets.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import { abortableSleep } from './abortable-sleep.ts'
import { createAttemptRunner } from './charge-attempts.ts'
import { createChargeHandler } from './charge-handler.ts'
import {
  invalidRequest,
  parseChargeRequest,
  parseIdempotencyKey,
  parseRefundRequest,
  type Parsed,
} from './charge-request.ts'
import type { GatewayConfig } from './config.ts'
import { createGatewayCounters } from './gateway-metrics.ts'
import { memoryJournal, type Journal } from './journal.ts'
import { Ledger } from './ledger.ts'
import { gatewayOpenApi } from './openapi.ts'
import { createRefundHandler } from './refund-handler.ts'
import { headAsGet } from '../../shared/http/head.ts'
import { securityHeaders } from '../../shared/http/security-headers.ts'

export interface GatewayDeps {
  config: Pick<
    GatewayConfig,
    | 'failureRate'
    | 'slowRate'
    | 'dropRate'
    | 'errorAfterChargeRate'
    | 'latencyMs'
    | 'slowMs'
    | 'flakyFailures'
    | 'secretKey'
    | 'maxBodyBytes'
    | 'rateLimitPerSecond'
    | 'rateLimitBurst'
  >
  logger: Logger
  metrics: Metrics
  /** Where settled facts are written before they are answered; replayed here first. Default: memory only. */
  journal?: Journal
  /** In [0, 1); compared with each rate that is above 0, one draw per rate. */
  random?: () => number
  /** Resolves after `ms`; rejects once `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
  now?: () => Date
  newChargeId?: () => string
  newRefundId?: () => string
  /** Abort on shutdown: waiting charges then answer 503, unwritten, instead of holding the server open. */
  shutdownSignal?: AbortSignal
  /** A server span per request, the child of the caller's `traceparent` (propagation only by default). */
  tracer?: Tracer
}

const hexId = (prefix: string) => () => `${prefix}_${crypto.randomUUID().replaceAll('-', '')}`

/**
 * The payment gateway sandbox: a card processor's charge and refund API.
 * Like a real processor, every charge and refund route wants the secret key
 * (`Authorization: Bearer <GATEWAY_SECRET_KEY>`); `GET /`, `/health`,
 * `/ready` and `/metrics` do not. Throws LedgerFileError when the journal
 * does not replay.
 */
export function createApp({
  config,
  logger,
  metrics,
  journal = memoryJournal,
  random = Math.random,
  sleep = abortableSleep,
  now = () => new Date(),
  newChargeId = hexId('ch'),
  newRefundId = hexId('re'),
  shutdownSignal,
  tracer = createPropagatingTracer(),
}: GatewayDeps) {
  const ledger = new Ledger({ flakyFailures: config.flakyFailures })
  journal.replay((fact) => ledger.apply(fact))
  const counters = createGatewayCounters(metrics)
  const roll = (rate: number) => rate > 0 && random() < rate
  const { failureRate, latencyMs, slowMs } = config
  const startAttempt = createAttemptRunner({
    ledger,
    journal,
    counters,
    slowMs,
    drawFaults: () => ({
      slow: roll(config.slowRate),
      drop: roll(config.dropRate),
      errorAfterCharge: roll(config.errorAfterChargeRate),
    }),
    sleep,
    now,
    newChargeId,
    shutdownSignal,
  })
  const handleCharge = createChargeHandler({
    ledger,
    logger,
    counters,
    failureRate,
    latencyMs,
    roll,
    sleep,
    startAttempt,
    shutdownSignal,
  })
  const handleRefund = createRefundHandler({
    ledger,
    journal,
    logger,
    counters,
    failureRate,
    roll,
    now,
    newRefundId,
  })
  const secretKey = requireApiKey({
    verifier: createSecretVerifier(config.secretKey, 'payment'),
    roles: ['admin'],
    // Wrong keys per client address only: the payment worker, the one
    // holder of the key, is never slowed down by it.
    limiter: createRateLimiter({ perSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst }),
    limitKeys: false,
    keyName: 'the gateway secret key (GATEWAY_SECRET_KEY)',
  })

  const app = new Hono<AuthEnv>()
  app.use(headAsGet)
  app.use(securityHeaders)
  app.use(httpMetrics(metrics))
  app.use(traceRequests(tracer))
  app.use(limitDeclaredBody(config.maxBodyBytes))
  for (const path of ['/charges', '/charges/*', '/charge-attempts/*', '/refunds', '/refunds/*']) {
    app.use(path, secretKey)
  }
  // After the key check: nobody without the secret key makes the gateway read a body.
  app.use(limitBody(config.maxBodyBytes, { hold: hasApiKey }))
  app.get('/', serviceIndex('gateway', app))
  // No dependency: ready until a stop begins, then 503 so a balancer sends no more.
  const checkReady = () =>
    Promise.resolve(shutdownSignal?.aborted === true ? { ok: false, reason: 'shutting down' } : { ok: true })
  app.route('/', createObservabilityRoutes({ metrics, checkReady }))
  app.route('/', createApiDocsRoutes({ document: gatewayOpenApi, assets: swaggerUiAssets }))

  app.post('/charges', (c) =>
    withBody(c, parseChargeRequest, (key, request) => handleCharge(c, key, request)),
  )
  app.get('/charges', (c) =>
    withFilter(c, 'orderId', (orderId) => c.json({ charges: ledger.charges(orderId) })),
  )
  app.get('/charges/:id', (c) => {
    const id = c.req.param('id')
    const charge = ledger.charge(id)
    return charge ? c.json(charge) : c.json({ error: 'not_found', message: `no charge ${id}` }, 404)
  })

  app.get('/charge-attempts/:key', (c) => {
    const key = c.req.param('key')
    const attempt = ledger.attempt(key)
    if (attempt) return c.json({ idempotencyKey: key, ...attempt })
    return c.json({ error: 'not_found', message: `no charge attempt under idempotency key ${key}` }, 404)
  })

  app.post('/refunds', (c) =>
    withBody(c, parseRefundRequest, (key, request) => handleRefund(c, key, request)),
  )
  app.get('/refunds', (c) =>
    withFilter(c, 'chargeId', (chargeId) => c.json({ refunds: ledger.refunds(chargeId) })),
  )

  app.notFound(notFound)
  app.onError(createErrorHandler({ logger }))
  return app
}

/**
 * A list route's one optional filter, or 400 `invalid_query`: another
 * parameter (`orderid` would list every order's charges), the filter twice,
 * or empty.
 */
function withFilter(c: Context, name: string, list: (value: string | undefined) => Response): Response {
  const filter = readOnlyFilter(new URL(c.req.url).searchParams, name)
  return filter.ok ? list(filter.value) : c.json({ error: 'invalid_query', message: filter.message }, 400)
}

/** The Idempotency-Key and the parsed body of a POST, or the 400 for either. */
async function withBody<T>(
  c: Context,
  parse: (body: unknown) => Parsed<T>,
  handle: (key: string, request: T) => Promise<Response>,
): Promise<Response> {
  const key = parseIdempotencyKey(c.req.header('Idempotency-Key'))
  if (key === undefined)
    return c.json(
      {
        error: 'missing_idempotency_key',
        message: 'send an Idempotency-Key of 1 to 255 visible ASCII characters (no spaces), not . or ..',
      },
      400,
    )
  const unsupported = unsupportedJsonBody(c)
  if (unsupported !== undefined) return unsupported
  const body = await readJsonBody(c)
  if (!body.ok) return c.json({ error: 'malformed_json', message: body.message }, 400)
  const parsed = parse(body.value)
  return parsed.ok ? handle(key, parsed.request) : c.json(invalidRequest(parsed.issues), 400)
}
