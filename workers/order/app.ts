import { Hono } from 'hono'
import * as v from 'valibot'
import type { Priority } from '../../schemas/subjects.ts'
import { OrderIdSchema } from '../../schemas/primitives.ts'
import {
  CreateOrderRequestV1,
  CreateOrderRequestV2,
  fromRequestV1,
  fromRequestV2,
  requestVersionOf,
} from '../../schemas/order-request.ts'
import type { ApiKeyVerifier } from '../../shared/http/api-keys.ts'
import { hasApiKey, requireApiKey, type AuthEnv } from '../../shared/http/auth.ts'
import { limitBody, limitDeclaredBody } from '../../shared/http/body-limit.ts'
import { correlationIdOf, VISIBLE_ASCII } from '../../shared/http/correlation.ts'
import { createErrorHandler, notFound } from '../../shared/http/errors.ts'
import {
  createObservabilityRoutes,
  httpMetrics,
  type Readiness,
} from '../../shared/http/observability-routes.ts'
import {
  isJsonObject,
  notAJsonObject,
  readJsonBody,
  unsupportedJsonBody,
} from '../../shared/http/json-body.ts'
import type { RateLimiter } from '../../shared/http/rate-limit.ts'
import { serviceIndex } from '../../shared/http/service-index.ts'
import { toIssueViews } from '../../shared/http/validation-issues.ts'
import { traceRequests, type TraceEnv } from '../../shared/http/tracing.ts'
import { KvRecordError } from '../../shared/nats/kv-json.ts'
import type { Logger } from '../../shared/observability/log.ts'
import { traceLogFields } from '../../shared/observability/trace-context.ts'
import { createPropagatingTracer, type Tracer } from '../../shared/observability/tracing.ts'
import type { IntakeMetrics } from '../../shared/observability/metrics-port.ts'
import { canRead } from './domain.ts'
import { isStorageFull } from '../../shared/nats/storage-full.ts'
import { UnavailableError, type OrderStore } from './order-store.ts'
import { headAsGet } from '../../shared/http/head.ts'
import { securityHeaders } from '../../shared/http/security-headers.ts'
import { intakeOperatorLines, type IntakeOperatorLines } from './operator-lines.ts'

export interface AppDeps {
  store: OrderStore
  logger: Logger
  metrics: IntakeMetrics
  checkReady: () => Promise<Readiness>
  /** API keys (API_KEYS): both order routes want a client or admin key. */
  verifier: ApiKeyVerifier
  /**
   * Requests per key id, and failed attempts per client address. Lives as
   * long as the process (or edge isolate), not per request.
   */
  limiter: RateLimiter
  /** Largest accepted request body. */
  maxBodyBytes?: number
  /** Seconds a client should wait after a 503. */
  retryAfterSeconds?: number
  /** Named in `GET /` (`order`, or `order-edge` at the edge). */
  service?: string
  /**
   * Ids of client keys that may place express orders (ORDER_EXPRESS_KEYS);
   * admin keys always may. Any other key asking for express gets standard.
   */
  expressKeys?: ReadonlySet<string>
  /** The shop's currency (ORDER_CURRENCY): a version 2 order in another is refused. Default USD. */
  currency?: string
  /**
   * `/openapi.json` and `/docs` (shared/http/api-docs.ts, workers/order/openapi.ts):
   * given on Bun, Node and Deno; not in the Worker, whose bundle has no room for them.
   */
  apiDocs?: Hono
  /**
   * A server span per request, from the request's `traceparent` or a new
   * trace; its context goes on the events. Propagation only by default (the edge).
   */
  tracer?: Tracer
  /**
   * The lines said at most once a minute (`intakeOperatorLines`): made per
   * app by default; the edge, which builds an app per request, keeps one set
   * per isolate.
   */
  operatorLines?: IntakeOperatorLines
}

/** `/orders/{orderId}` and `/orders/{orderId}/cancel`: the order a failed read or cancellation was about. */
const ORDER_PATH =
  /^\/orders\/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?:\/cancel)?$/

type Env = { Variables: AuthEnv['Variables'] & TraceEnv['Variables'] & { correlationId: string } }

export function createApp({
  store,
  logger,
  metrics,
  checkReady,
  verifier,
  limiter,
  maxBodyBytes = 64 * 1024,
  retryAfterSeconds = 1,
  service = 'order',
  expressKeys = new Set<string>(),
  currency = 'USD',
  apiDocs,
  tracer = createPropagatingTracer(),
  operatorLines = intakeOperatorLines(),
}: AppDeps) {
  const app = new Hono<Env>()
  app.use(headAsGet)
  app.use(securityHeaders)

  app.use(httpMetrics(metrics))
  app.use(traceRequests(tracer))
  app.use(async (c, next) => {
    c.set('correlationId', correlationIdOf(c.req.header('X-Correlation-ID')))
    await next()
    c.header('X-Correlation-ID', c.get('correlationId'))
  })
  app.use(limitDeclaredBody(maxBodyBytes))
  const clientOrAdmin = requireApiKey({ verifier, roles: ['client', 'admin'], limiter })
  app.use('/orders', clientOrAdmin)
  app.use('/orders/*', clientOrAdmin)
  // After the key check: nobody without a key makes the intake read a body.
  // Open routes read none; theirs is only counted against the limit.
  app.use(limitBody(maxBodyBytes, { hold: hasApiKey }))

  app.get('/', serviceIndex(service, app))
  app.route('/', createObservabilityRoutes({ metrics, checkReady }))
  if (apiDocs !== undefined) app.route('/', apiDocs)

  /** An order this instance published moments ago that `apiKey` may read (recent-orders.ts). */
  const publishedHere = (orderId: string, apiKey: AuthEnv['Variables']['apiKey']) => {
    const recent = store.recentlyPublished?.(orderId)
    return recent !== undefined && canRead({ owner: recent.owner }, apiKey) ? recent : undefined
  }

  app.post('/orders', async (c) => {
    const unsupported = unsupportedJsonBody(c, 'send the order as application/json')
    if (unsupported !== undefined) return unsupported
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
    const body = await readJsonBody(c)
    if (!body.ok) return c.json({ error: 'malformed_json', message: body.message }, 400)
    if (!isJsonObject(body.value)) return notAJsonObject(c, 'invalid_order')
    // A `customer` object is a version 2 body; anything else is read as version 1.
    const parsed =
      requestVersionOf(body.value) === 2
        ? v.safeParse(CreateOrderRequestV2, body.value)
        : v.safeParse(CreateOrderRequestV1, body.value)
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
    if ('currency' in parsed.output && parsed.output.currency !== currency) {
      // The stock is priced and charged in the shop's currency: an order in
      // another would be charged in one the customer did not choose.
      return c.json(
        {
          error: 'unsupported_currency',
          message: `orders are taken in ${currency}, not ${parsed.output.currency}`,
        },
        422,
      )
    }
    const apiKey = c.get('apiKey')
    const owner = apiKey.id
    const asked = 'customerId' in parsed.output ? fromRequestV1(parsed.output) : fromRequestV2(parsed.output)
    // Capped by what the key may ask for: express only for admin keys and the keys listed.
    const mayExpress = apiKey.role === 'admin' || expressKeys.has(apiKey.id)
    const priority: Priority = asked.priority === 'express' && mayExpress ? 'express' : 'standard'
    const request = { ...asked, priority }
    // The order as placed: a `priority` that changes nothing (the default, or
    // an express the key may not ask for) does not make a retry another request.
    const { priority: _asked, ...unprioritised } = parsed.output
    const fingerprintOf = priority === 'express' ? { ...unprioritised, priority } : unprioritised
    const result = await store.placeOrder({
      request,
      fingerprintOf,
      fingerprintBefore: parsed.output,
      correlationId: c.get('correlationId'),
      owner,
      trace: c.get('trace'),
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
      {
        orderId: result.orderId,
        correlationId: result.correlationId,
        replayed: result.replayed,
        owner,
        ...traceLogFields(c.get('trace')),
      },
      result.replayed ? 'order replayed for idempotency key' : 'order accepted',
    )
    c.header('Location', `/orders/${result.orderId}`)
    // As the gateway says it: the order an earlier request with this key placed.
    if (result.replayed) c.header('Idempotent-Replayed', 'true')
    return c.json(
      { orderId: result.orderId, status: result.status, correlationId: result.correlationId },
      202,
    )
  })

  app.get('/orders/:orderId', async (c) => {
    // A UUID is the same in either case; ids are minted and stored in lower case.
    const orderId = c.req.param('orderId').toLowerCase()
    if (!v.is(OrderIdSchema, orderId)) {
      return c.json({ error: 'invalid_order_id', message: 'an order id is a UUID' }, 400)
    }
    // Another client's order looks exactly like one that does not exist, in its answer and its timing.
    const apiKey = c.get('apiKey')
    const order = await store.getOrder(orderId, (record) => canRead(record, apiKey))
    if (order === null) {
      if (publishedHere(orderId, apiKey) !== undefined) {
        c.header('Retry-After', String(retryAfterSeconds))
        return c.json(
          {
            error: 'unavailable',
            message: `order ${orderId} was accepted moments ago and cannot be read yet; retry shortly`,
          },
          503,
        )
      }
      return c.json({ error: 'not_found', message: `no order ${orderId}` }, 404)
    }
    return c.json(order)
  })

  /**
   * Cancels an order: before payment its stock is released; a paid order is
   * refunded and its stock returned. Idempotent: an order already cancelled
   * answers 200 with its record; otherwise 202 and the request is handled
   * by the workers (poll `GET /orders/{orderId}`).
   */
  app.post('/orders/:orderId/cancel', async (c) => {
    const orderId = c.req.param('orderId').toLowerCase()
    if (!v.is(OrderIdSchema, orderId)) {
      return c.json({ error: 'invalid_order_id', message: 'an order id is a UUID' }, 400)
    }
    const apiKey = c.get('apiKey')
    const found = await store.getOrder(orderId, (record) => canRead(record, apiKey))
    // Accepted here moments ago and not shown by the projection yet: its
    // cancellation is taken all the same (the workers take a cancellation
    // that comes before its order), not refused as an unknown order.
    const recent = found === null ? publishedHere(orderId, apiKey) : undefined
    if (found === null && recent === undefined) {
      return c.json({ error: 'not_found', message: `no order ${orderId}` }, 404)
    }
    const order = found ?? {
      status: 'pending' as const,
      correlationId: recent?.correlationId,
      priority: recent?.priority,
    }
    if (order.correlationId !== undefined) c.set('correlationId', order.correlationId)
    if (found?.status === 'cancelled') return c.json(found, 200)
    await store.requestCancellation({
      orderId,
      correlationId: c.get('correlationId'),
      requestedBy: apiKey.id,
      trace: c.get('trace'),
      // In the order's lane: an express order's cancellation does not wait behind standard ones.
      priority: order.priority ?? 'standard',
    })
    logger.info(
      {
        orderId,
        correlationId: c.get('correlationId'),
        status: order.status,
        by: apiKey.id,
        ...traceLogFields(c.get('trace')),
      },
      'cancellation requested',
    )
    c.header('Location', `/orders/${orderId}`)
    return c.json(
      { orderId, status: order.status, cancellation: 'requested', correlationId: c.get('correlationId') },
      202,
    )
  })

  app.notFound(notFound)

  const { storageFull, unavailable } = operatorLines
  app.onError(
    createErrorHandler({
      logger,
      known: (error, c) => {
        const correlationId = c.get('correlationId')
        if (correlationId) c.header('X-Correlation-ID', correlationId)
        if (error instanceof KvRecordError) {
          // Written by something other than the projection (or corrupted): an operator's matter.
          const orderId = ORDER_PATH.exec(c.req.path)?.[1]?.toLowerCase()
          logger.error(
            { err: error, correlationId, path: c.req.path, ...(orderId === undefined ? {} : { orderId }) },
            'stored record is not valid',
          )
          return c.json(
            {
              error: 'invalid_record',
              message: 'a stored record of this request is not valid; retrying will not help',
            },
            500,
          )
        }
        if (!(error instanceof UnavailableError)) return undefined
        if (isStorageFull(error) && error.orderId === undefined) {
          storageFull(logger, { err: error, correlationId })
          // Not a blip: later, not in a second.
          c.header('Retry-After', '30')
          return c.json(
            {
              error: 'unavailable',
              message: 'storage full; retry later',
            },
            503,
          )
        }
        // The order being placed, or the one the path names (a read, a cancellation).
        const orderId = error.orderId ?? ORDER_PATH.exec(c.req.path)?.[1]?.toLowerCase()
        unavailable(logger, {
          err: error,
          correlationId,
          path: c.req.path,
          ...(orderId === undefined ? {} : { orderId }),
        })
        c.header('Retry-After', String(retryAfterSeconds))
        if (error.orderId !== undefined) {
          // Its event may be stored all the same: a retry without the same
          // Idempotency-Key could place (and charge) the order twice.
          const keyed = c.req.header('Idempotency-Key') !== undefined
          return c.json(
            {
              error: 'unavailable',
              message: `NATS stopped answering while this order was published; it may be placed: ${keyed ? 'retry with the same Idempotency-Key' : 'read it before ordering again'}`,
              orderId,
            },
            503,
          )
        }
        return c.json(
          { error: 'unavailable', message: 'the order service cannot reach its message bus; retry shortly' },
          503,
        )
      },
    }),
  )

  return app
}
