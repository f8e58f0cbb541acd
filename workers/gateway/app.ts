import { Hono } from 'hono'
import { createSecretVerifier } from '../../shared/http/api-keys.ts'
import { hasApiKey, requireApiKey, type AuthEnv } from '../../shared/http/auth.ts'
import { limitBody, limitDeclaredBody } from '../../shared/http/body-limit.ts'
import { createErrorHandler, notFound } from '../../shared/http/errors.ts'
import { parseJsonBody } from '../../shared/http/json-body.ts'
import { createObservabilityRoutes, httpMetrics } from '../../shared/http/observability-routes.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import { serviceIndex } from '../../shared/http/service-index.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import { abortableSleep } from './abortable-sleep.ts'
import { createChargeHandler } from './charge-handler.ts'
import { parseChargeRequest, parseIdempotencyKey } from './charge-request.ts'
import type { GatewayConfig } from './config.ts'
import { ChargeLedger } from './domain.ts'

export interface GatewayDeps {
  config: Pick<
    GatewayConfig,
    | 'failureRate'
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
  /** In [0, 1); compared with `failureRate`. */
  random?: () => number
  /** Resolves after `ms`; rejects once `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
  now?: () => Date
  newChargeId?: () => string
  /** Abort on shutdown: waiting charges then answer 503 instead of holding the server open. */
  shutdownSignal?: AbortSignal
}

/**
 * The payment gateway sandbox: a card processor's charge API, in memory.
 * Like a real processor, every charge route wants the secret key
 * (`Authorization: Bearer <GATEWAY_SECRET_KEY>`); `GET /`, `/health`,
 * `/ready` and `/metrics` do not.
 */
export function createApp({
  config,
  logger,
  metrics,
  random = Math.random,
  sleep = abortableSleep,
  now = () => new Date(),
  newChargeId = () => `ch_${crypto.randomUUID().replaceAll('-', '')}`,
  shutdownSignal,
}: GatewayDeps) {
  const ledger = new ChargeLedger({ flakyFailures: config.flakyFailures })
  const { failureRate, latencyMs, slowMs } = config
  const handleCharge = createChargeHandler({
    ledger,
    logger,
    failureRate,
    latencyMs,
    slowMs,
    random,
    sleep,
    now,
    newChargeId,
    shutdownSignal,
  })
  const secretKey = requireApiKey({
    verifier: createSecretVerifier(config.secretKey, 'payment'),
    roles: ['admin'],
    // Wrong keys per client address only: the payment worker, the one
    // holder of the key, is never slowed down by it.
    limiter: createRateLimiter({ perSecond: config.rateLimitPerSecond, burst: config.rateLimitBurst }),
    limitKeys: false,
  })

  const app = new Hono<AuthEnv>()
  app.use(httpMetrics(metrics))
  app.use(limitDeclaredBody(config.maxBodyBytes))
  app.use('/charges', secretKey)
  app.use('/charges/*', secretKey)
  // After the key check: nobody without the secret key makes the gateway read a body.
  app.use(limitBody(config.maxBodyBytes, { hold: hasApiKey }))
  app.get('/', serviceIndex('gateway', app))
  app.route('/', createObservabilityRoutes({ metrics, checkReady: () => Promise.resolve({ ok: true }) }))

  app.post('/charges', async (c) => {
    const key = parseIdempotencyKey(c.req.header('Idempotency-Key'))
    if (key === undefined) return c.json({ error: 'missing_idempotency_key' }, 400)
    const body = parseJsonBody(await c.req.text())
    if (!body.ok) return c.json({ error: 'malformed_json' }, 400)
    const parsed = parseChargeRequest(body.value)
    if (!parsed.ok) {
      const message = parsed.issues.map(({ path, message }) => `${path || '(body)'}: ${message}`).join('; ')
      return c.json({ error: 'invalid_request', message, issues: parsed.issues }, 400)
    }
    return handleCharge(c, key, parsed.request)
  })

  app.get('/charges', (c) => c.json({ charges: ledger.charges(c.req.query('orderId')) }))

  app.get('/charges/:id', (c) => {
    const id = c.req.param('id')
    const charge = ledger.charge(id)
    return charge ? c.json(charge) : c.json({ error: 'not_found', message: `no charge ${id}` }, 404)
  })

  app.notFound(notFound)
  app.onError(createErrorHandler({ logger }))
  return app
}
