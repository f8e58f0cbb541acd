import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { HTTPException } from 'hono/http-exception'
import * as v from 'valibot'
import { OrderIdSchema } from '../../schemas/primitives.ts'
import { CreateOrderRequestV1 } from '../../schemas/order-request.ts'
import {
  createObservabilityRoutes,
  httpMetrics,
  type Readiness,
} from '../../shared/http/observability-routes.ts'
import { isJsonContentType, parseJsonBody } from '../../shared/http/json-body.ts'
import { toIssueViews } from '../../shared/http/validation-issues.ts'
import type { Logger } from '../../shared/observability/log.ts'
import type { IntakeMetrics } from '../../shared/observability/metrics-port.ts'
import { UnavailableError, type OrderStore } from './order-store.ts'

export interface AppDeps {
  store: OrderStore
  logger: Logger
  metrics: IntakeMetrics
  checkReady: () => Promise<Readiness>
  /** Largest accepted request body. */
  maxBodyBytes?: number
  /** Seconds a client should wait after a 503. */
  retryAfterSeconds?: number
}

type Env = { Variables: { correlationId: string } }

/** Visible ASCII, no spaces: safe to log and to put in a NATS header. */
const VISIBLE_ASCII = /^[\x21-\x7E]{1,128}$/

export function createApp({
  store,
  logger,
  metrics,
  checkReady,
  maxBodyBytes = 64 * 1024,
  retryAfterSeconds = 1,
}: AppDeps) {
  const app = new Hono<Env>()

  app.use(httpMetrics(metrics))
  app.use(async (c, next) => {
    const given = c.req.header('X-Correlation-ID')
    const correlationId = given !== undefined && VISIBLE_ASCII.test(given) ? given : crypto.randomUUID()
    c.set('correlationId', correlationId)
    await next()
    c.header('X-Correlation-ID', c.get('correlationId'))
  })

  app.route('/', createObservabilityRoutes({ metrics, checkReady }))

  app.post(
    '/orders',
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: (c) =>
        c.json(
          { error: 'payload_too_large', message: `the body must be at most ${maxBodyBytes} bytes` },
          413,
        ),
    }),
    async (c) => {
      if (!isJsonContentType(c.req.header('Content-Type'))) {
        return c.json({ error: 'unsupported_media_type', message: 'send the order as application/json' }, 415)
      }
      const idempotencyKey = c.req.header('Idempotency-Key')
      if (idempotencyKey !== undefined && !VISIBLE_ASCII.test(idempotencyKey)) {
        return c.json(
          {
            error: 'invalid_idempotency_key',
            message: 'Idempotency-Key must be 1-128 visible ASCII characters',
          },
          400,
        )
      }
      const body = parseJsonBody(await c.req.text())
      if (!body.ok) return c.json({ error: 'malformed_json', message: 'the body is not valid JSON' }, 400)
      const parsed = v.safeParse(CreateOrderRequestV1, body.value, { abortPipeEarly: true })
      if (!parsed.success) {
        const issues = toIssueViews(parsed.issues)
        const first = issues[0]
        return c.json(
          {
            error: 'invalid_order',
            message: first ? `${first.path || 'body'}: ${first.message}` : 'the order is invalid',
            issues,
          },
          400,
        )
      }
      const correlationId = c.get('correlationId')
      const result = await store.placeOrder({
        request: parsed.output,
        correlationId,
        ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
      })
      if (result.kind === 'idempotency_key_reused') {
        return c.json(
          { error: 'idempotency_key_reused', message: 'this Idempotency-Key was used with a different body' },
          422,
        )
      }
      c.set('correlationId', result.correlationId)
      logger.info(
        { orderId: result.orderId, correlationId: result.correlationId, replayed: result.replayed },
        result.replayed ? 'order replayed for idempotency key' : 'order accepted',
      )
      c.header('Location', `/orders/${result.orderId}`)
      return c.json({ orderId: result.orderId, status: 'pending', correlationId: result.correlationId }, 202)
    },
  )

  app.get('/orders/:orderId', async (c) => {
    const orderId = c.req.param('orderId')
    if (!v.is(OrderIdSchema, orderId)) {
      return c.json({ error: 'invalid_order_id', message: 'an order id is a UUID' }, 400)
    }
    const order = await store.getOrder(orderId)
    if (order === null) return c.json({ error: 'not_found', message: `no order ${orderId}` }, 404)
    return c.json(order)
  })

  app.notFound((c) => c.json({ error: 'not_found', message: `no route ${c.req.method} ${c.req.path}` }, 404))

  app.onError((error, c) => {
    const correlationId = c.get('correlationId')
    if (correlationId) c.header('X-Correlation-ID', correlationId)
    if (error instanceof UnavailableError) {
      logger.warn({ err: error, correlationId, path: c.req.path }, 'NATS unavailable; answering 503')
      c.header('Retry-After', String(retryAfterSeconds))
      return c.json(
        { error: 'unavailable', message: 'the order service cannot reach its message bus; retry shortly' },
        503,
      )
    }
    if (error instanceof HTTPException) return error.getResponse()
    logger.error({ err: error, correlationId, path: c.req.path }, 'unhandled error')
    return c.json({ error: 'internal', message: 'internal error' }, 500)
  })

  return app
}
