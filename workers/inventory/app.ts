import { Hono, type MiddlewareHandler } from 'hono'
import * as v from 'valibot'
import { SkuSchema } from '../../schemas/primitives.ts'
import { createApiDocsRoutes } from '../../shared/http/api-docs.ts'
import type { ApiKeyVerifier } from '../../shared/http/api-keys.ts'
import { hasApiKey, requireApiKey, type AuthEnv } from '../../shared/http/auth.ts'
import { limitBody, limitDeclaredBody } from '../../shared/http/body-limit.ts'
import { createErrorHandler, notFound } from '../../shared/http/errors.ts'
import {
  createObservabilityRoutes,
  httpMetrics,
  SMALL_BODY_BYTES,
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
import { swaggerUiAssets } from '../../shared/http/swagger-ui-assets.ts'
import { toIssueViews } from '../../shared/http/validation-issues.ts'
import { isStorageFull } from '../../shared/nats/storage-full.ts'
import { isNatsUnavailable } from '../../shared/nats/errors.ts'
import { KvRecordError } from '../../shared/nats/kv-json.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import { traceOf, traceRequests } from '../../shared/http/tracing.ts'
import { traceLogFields } from '../../shared/observability/trace-context.ts'
import { createPropagatingTracer, type Tracer } from '../../shared/observability/tracing.ts'
import { stockTag, toStockView } from './domain.ts'
import { inventoryOpenApi } from './openapi.ts'
import { SetStockRequestSchema } from './records.ts'
import { stockRepair, type StockStore } from './stock-store.ts'
import { headAsGet } from '../../shared/http/head.ts'
import { securityHeaders } from '../../shared/http/security-headers.ts'
import { natsRefusalLines } from '../../shared/observability/nats-refusal-lines.ts'

export interface InventoryAppDeps {
  store: Pick<StockStore, 'getStock' | 'setStock'>
  logger: Logger
  metrics: Metrics
  checkReady: () => Promise<Readiness>
  /** API keys (API_KEYS): setting stock wants an admin key; reading it wants none. */
  verifier: ApiKeyVerifier
  /**
   * Failed attempts per client address and admin writes per key id
   * (RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST); lives as long as the process.
   */
  limiter: RateLimiter
  /** Largest request body on any route. */
  maxBodyBytes?: number
  /** A server span per request (propagation only by default). */
  tracer?: Tracer
}

/** `*`, or a list of entity tags (RFC 9110 13.1.1): `"x"` or `W/"x"`, comma-separated. */
const IF_MATCH = /^\s*(?:\*|(?:W\/)?"[\x21\x23-\x7E]*"(?:\s*,\s*(?:W\/)?"[\x21\x23-\x7E]*")*)\s*$/

export function createApp({
  store,
  logger,
  metrics,
  checkReady,
  verifier,
  limiter,
  maxBodyBytes = SMALL_BODY_BYTES,
  tracer = createPropagatingTracer(),
}: InventoryAppDeps) {
  const app = new Hono<AuthEnv>()
  app.use(headAsGet)
  app.use(securityHeaders)
  app.use(httpMetrics(metrics))
  app.use(traceRequests(tracer))
  app.use(limitDeclaredBody(maxBodyBytes))
  // The README's walk-through reads stock without a key: only setting it is guarded.
  const adminKey = requireApiKey({ verifier, roles: ['admin'], limiter })
  const adminKeyToPut: MiddlewareHandler<AuthEnv> = (c, next) =>
    c.req.method === 'PUT' ? adminKey(c, next) : next()
  app.use('/inventory/:sku', adminKeyToPut)
  // After the key check: nobody without an admin key makes the service read a body.
  app.use(limitBody(maxBodyBytes, { hold: hasApiKey }))
  app.get('/', serviceIndex('inventory', app))
  app.route('/', createObservabilityRoutes({ metrics, checkReady }))
  app.route('/', createApiDocsRoutes({ document: inventoryOpenApi, assets: swaggerUiAssets }))

  app.get('/inventory/:sku', async (c) => {
    const sku = c.req.param('sku')
    if (!v.is(SkuSchema, sku))
      return c.json({ error: 'invalid_sku', message: 'a sku matches ^[A-Z0-9][A-Z0-9-]{0,31}$' }, 400)
    const record = await store.getStock(sku)
    if (record === null) return c.json({ error: 'not_found', message: `no stock record for ${sku}` }, 404)
    c.header('ETag', stockTag(record))
    return c.json(toStockView(record))
  })

  app.put('/inventory/:sku', async (c) => {
    const sku = c.req.param('sku')
    if (!v.is(SkuSchema, sku))
      return c.json({ error: 'invalid_sku', message: 'a sku matches ^[A-Z0-9][A-Z0-9-]{0,31}$' }, 400)
    const unsupported = unsupportedJsonBody(c)
    if (unsupported !== undefined) return unsupported
    const body = await readJsonBody(c)
    if (!body.ok) return c.json({ error: 'malformed_json', message: body.message }, 400)
    if (!isJsonObject(body.value)) return notAJsonObject(c, 'invalid_stock')
    const parsed = v.safeParse(SetStockRequestSchema, body.value)
    if (!parsed.success) {
      const issues = toIssueViews(parsed.issues)
      return c.json(
        {
          error: 'invalid_stock',
          message: `${issues[0]?.path ?? 'body'}: ${issues[0]?.message ?? 'invalid'}`,
          issues,
        },
        400,
      )
    }
    const ifMatch = c.req.header('If-Match')
    if (ifMatch !== undefined && !IF_MATCH.test(ifMatch)) {
      return c.json(
        {
          error: 'invalid_if_match',
          message:
            'If-Match is * or entity tags in double quotes, comma-separated (the ETag of a GET: "25-1999")',
        },
        400,
      )
    }
    const decision = await store.setStock(sku, parsed.output, ifMatch)
    if (decision.kind === 'precondition_failed') {
      if (decision.etag !== null) c.header('ETag', decision.etag)
      return c.json(
        {
          error: 'precondition_failed',
          message:
            decision.etag === null
              ? `If-Match names a stock record, and ${sku} has none`
              : `the stock changed since it was read: its ETag is now ${decision.etag}`,
        },
        412,
      )
    }
    if (decision.kind === 'below_reserved') {
      return c.json(
        {
          error: 'below_reserved',
          message: `${decision.reserved} units are held for open orders`,
          reserved: decision.reserved,
        },
        409,
      )
    }
    if ('replaced' in decision)
      logger.warn({ sku }, 'replaced a stock record that was not valid (its holds unknown)')
    logger.info(
      {
        sku,
        onHand: parsed.output.onHand,
        priceCents: parsed.output.priceCents,
        ...traceLogFields(traceOf(c)),
      },
      'stock set',
    )
    c.header('ETag', stockTag(decision.record))
    return c.json(toStockView(decision.record), decision.created ? 201 : 200)
  })

  app.notFound(notFound)
  const { storageFull, unavailable } = natsRefusalLines()
  app.onError(
    createErrorHandler({
      logger,
      known: (error, c) => {
        if (error instanceof KvRecordError) {
          const sku = c.req.param('sku') ?? ''
          logger.error({ err: error, sku }, 'stock record is not valid')
          return c.json(
            {
              error: 'invalid_record',
              message: `the stock record of ${sku} is not a valid record; ${stockRepair(sku)}`,
            },
            500,
          )
        }
        if (isStorageFull(error)) {
          // Refused at the bucket's cap: nothing was written, and waiting alone does not end it.
          storageFull(logger, { err: error, path: c.req.path })
          c.header('Retry-After', '30')
          return c.json(
            {
              error: 'unavailable',
              message: 'the stock store is full (KV_STOCK_MAX_BYTES): nothing was written; retry later',
            },
            503,
          )
        }
        if (!isNatsUnavailable(error)) return undefined
        unavailable(logger, { err: error, path: c.req.path })
        c.header('Retry-After', '1')
        // A write sent before the store stopped answering may still be applied.
        const message =
          c.req.method === 'PUT'
            ? `the stock store is not answering, and this write may have been applied all the same: GET /inventory/${c.req.param('sku') ?? ''} before writing again`
            : 'the stock store is not answering; retry shortly'
        return c.json({ error: 'unavailable', message }, 503)
      },
    }),
  )
  return app
}
