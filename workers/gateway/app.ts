import { Hono } from 'hono'
import { parseJsonBody } from '../../shared/http/json-body.ts'
import { createObservabilityRoutes, httpMetrics } from '../../shared/http/observability-routes.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import { abortableSleep } from './abortable-sleep.ts'
import { createChargeHandler } from './charge-handler.ts'
import { parseChargeRequest, parseIdempotencyKey } from './charge-request.ts'
import type { GatewayConfig } from './config.ts'
import { ChargeLedger } from './domain.ts'

export interface GatewayDeps {
  config: Pick<GatewayConfig, 'failureRate' | 'latencyMs' | 'slowMs' | 'flakyFailures'>
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

/** The payment gateway sandbox: a card processor's charge API, in memory. */
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

  const app = new Hono()
  app.use(httpMetrics(metrics))
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
    const charge = ledger.charge(c.req.param('id'))
    return charge ? c.json(charge) : c.json({ error: 'not_found' }, 404)
  })

  app.notFound((c) => c.json({ error: 'not_found' }, 404))
  app.onError((error, c) => {
    logger.error({ err: error, method: c.req.method, path: c.req.path }, 'unhandled error')
    return c.json({ error: 'internal' }, 500)
  })
  return app
}
