/*
 * The operator console's HTTP side. `/console` serves the page and its two
 * files (no data, no key: the page asks for the key); everything under
 * `/console/api/` wants an admin API key in `Authorization: Bearer`, the
 * live list included (Server-Sent Events, read by the page with fetch so it
 * can send the header). docs/console.md has the routes and the reasoning.
 */
import { Hono, type Context } from 'hono'
import { streamSSE } from 'hono/streaming'
import { assetFiles, assetResponse, createApiDocsRoutes } from '../../shared/http/api-docs.ts'
import type { ApiKeyVerifier } from '../../shared/http/api-keys.ts'
import { swaggerUiAssets } from '../../shared/http/swagger-ui-assets.ts'
import { requireApiKey, type AuthEnv } from '../../shared/http/auth.ts'
import { limitBody, limitDeclaredBody } from '../../shared/http/body-limit.ts'
import { createErrorHandler, notFound } from '../../shared/http/errors.ts'
import {
  createObservabilityRoutes,
  httpMetrics,
  type Readiness,
} from '../../shared/http/observability-routes.ts'
import type { RateLimiter } from '../../shared/http/rate-limit.ts'
import { serviceIndex } from '../../shared/http/service-index.ts'
import { SSE_HEADERS, writtenWithin } from '../../shared/http/sse.ts'
import type { Logger } from '../../shared/observability/log.ts'
import type { Tracer } from '../../shared/observability/tracing.ts'
import { traceOf, traceRequests } from '../../shared/http/tracing.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import {
  consoleKnownErrors,
  parseDeadLetterId,
  readDeadLetterSubject,
  readSearch,
  takesNoQuery,
} from './app-input.ts'
import type { ConsoleData } from './console-data.ts'
import { CONSOLE_MAX_BODY_BYTES, consoleOpenApi } from './openapi.ts'
import { CONSOLE_PAGE_HEADERS, CONSOLE_PAGE_ROUTES, consolePageAssets } from './page/assets.ts'
import { headAsGet } from '../../shared/http/head.ts'
import { securityHeaders } from '../../shared/http/security-headers.ts'

export interface ConsoleAppDeps {
  data: ConsoleData
  logger: Logger
  metrics: Metrics
  checkReady: () => Promise<Readiness>
  /** API keys (API_KEYS): the API wants an admin key. */
  verifier: ApiKeyVerifier
  /** Failed key attempts per client address. */
  limiter: RateLimiter
  /** How often the live stream sends a batch, and a keep-alive when idle (ms). */
  liveIntervalMs?: number
  maxLiveClients?: number
  /** A server span per request (OTEL_EXPORTER_OTLP_ENDPOINT); its context goes on to the order service. */
  tracer?: Tracer
}

/** A live client is sent a comment after this long without changes; a write waiting this long drops it. */
const LIVE_HEARTBEAT_MS = 15_000
/** How long a live stream may take to end once the console stops, before it is cut. */
const LIVE_STOP_GRACE_MS = 1_000
/** Batches (events) waiting for one live client; a client further behind is dropped. */
const LIVE_QUEUE_MAX = 1_000

const ORDER_ID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/

export function createConsoleApp(deps: ConsoleAppDeps) {
  const { data, logger, metrics, checkReady, verifier, limiter } = deps
  const app = new Hono<AuthEnv>()
  app.use(headAsGet)
  app.use(securityHeaders)
  if (deps.tracer !== undefined) app.use(traceRequests(deps.tracer))
  app.use(httpMetrics(metrics))
  app.use(limitDeclaredBody(CONSOLE_MAX_BODY_BYTES))
  const admin = requireApiKey({ verifier, roles: ['admin'], limiter, limitKeys: false })
  app.use('/console/api/*', admin)
  app.use('/console/api/*', async (c, next) => {
    await next()
    c.header('Cache-Control', 'no-store')
  })
  app.use(limitBody(CONSOLE_MAX_BODY_BYTES))

  app.get('/', serviceIndex('console', app))
  app.route('/', createObservabilityRoutes({ metrics, checkReady }))
  app.route('/', createApiDocsRoutes({ document: consoleOpenApi, assets: swaggerUiAssets }))

  // The page's files, loaded on the first request for one (gzipped in a binary).
  const page = assetFiles(consolePageAssets)
  for (const [path, name] of Object.entries(CONSOLE_PAGE_ROUTES)) {
    app.get(path, async (c) => {
      const asset = (await page.all())[name]
      if (asset === undefined) throw new Error(`the console page has no file ${name}`)
      return assetResponse(c, page, name, asset, CONSOLE_PAGE_HEADERS)
    })
  }

  app.get('/console/api/orders', async (c) => {
    const parsed = readSearch(new URL(c.req.url).searchParams)
    if (!parsed.ok) return c.json({ error: 'invalid_search', message: parsed.message }, 400)
    const page = await data.searchOrders(parsed.value)
    return c.json(page)
  })

  app.get('/console/api/orders/:orderId', takesNoQuery, async (c) => {
    const orderId = c.req.param('orderId').toLowerCase()
    if (!ORDER_ID.test(orderId))
      return c.json({ error: 'invalid_order_id', message: 'an order id is a UUID' }, 400)
    const view = await data.orderWithTimeline(orderId)
    return view === null ? c.json({ error: 'not_found', message: `no order ${orderId}` }, 404) : c.json(view)
  })

  // The cancellation API of the order service, called with the operator's own key.
  app.post('/console/api/orders/:orderId/cancel', takesNoQuery, async (c) => {
    const orderId = c.req.param('orderId').toLowerCase()
    if (!ORDER_ID.test(orderId))
      return c.json({ error: 'invalid_order_id', message: 'an order id is a UUID' }, 400)
    const correlationId = c.req.header('X-Correlation-ID')
    const answer = await data.cancelOrder(orderId, c.req.header('Authorization') ?? '', {
      trace: traceOf(c),
      ...(correlationId === undefined ? {} : { correlationId }),
    })
    if (answer.status === 429 || answer.status === 503) c.header('Retry-After', answer.retryAfter ?? '1')
    return c.json(answer.body, answer.status)
  })

  app.get('/console/api/dead-letters', async (c) => {
    const subject = readDeadLetterSubject(new URL(c.req.url).searchParams)
    if (!subject.ok) return c.json({ error: 'invalid_query', message: subject.message }, 400)
    return c.json({ deadLetters: await data.deadLetters(subject.value) })
  })
  app.get('/console/api/dead-letters/:id', takesNoQuery, async (c) =>
    c.json(await data.deadLetter(deadLetterId(c))),
  )
  app.post('/console/api/dead-letters/:id/replay', takesNoQuery, async (c) => {
    const id = deadLetterId(c)
    const result = await data.replayDeadLetter(id)
    logger.info(
      { deadLetter: id, subject: result.subject, duplicate: result.duplicate },
      'dead letter replayed from the console',
    )
    return c.json(result)
  })
  app.post('/console/api/dead-letters/:id/purge', takesNoQuery, async (c) => {
    const id = deadLetterId(c)
    const removed = await data.removeDeadLetter(id)
    logger.info({ deadLetter: id, removed }, 'dead letter purged from the console')
    return c.json({ id, purged: removed ? 1 : 0 })
  })
  app.post('/console/api/dead-letters/purge', async (c) => {
    const subject = readDeadLetterSubject(new URL(c.req.url).searchParams)
    if (!subject.ok) return c.json({ error: 'invalid_query', message: subject.message }, 400)
    const purged = await data.purgeDeadLetters(subject.value)
    logger.info({ subject: subject.value ?? 'all', purged }, 'dead letters purged from the console')
    return c.json({ purged })
  })

  app.get('/console/api/consumers', takesNoQuery, async (c) => c.json({ consumers: await data.consumers() }))
  app.get('/console/api/breaker', takesNoQuery, async (c) => c.json(await data.breaker()))
  app.get('/console/api/stock', takesNoQuery, async (c) => c.json(await data.stock()))

  let liveClients = 0
  app.get('/console/api/live', takesNoQuery, (c) => {
    // HEAD: the stream's headers, no stream (a body nobody reads would hold a client's place).
    if (c.req.method === 'HEAD') return c.body(null, 200, SSE_HEADERS)
    if (liveClients >= (deps.maxLiveClients ?? 32)) {
      c.header('Retry-After', '5')
      return c.json({ error: 'unavailable', message: 'too many live clients; retry later' }, 503)
    }
    liveClients++
    return streamSSE(c, async (stream) => {
      const queue: string[] = []
      let wake: () => void = () => undefined
      // The console stopping ends every stream, so the HTTP server can close.
      let ended = false
      const unsubscribe = data.live.subscribe(
        (changes) => {
          // A client this far behind is not reading: it is dropped, not buffered for.
          if (queue.length >= LIVE_QUEUE_MAX) stream.abort()
          else queue.push(JSON.stringify(changes))
          wake()
        },
        () => {
          ended = true
          wake()
          // A write the client does not read holds the loop up to LIVE_HEARTBEAT_MS: cut it short.
          setTimeout(() => {
            if (!stream.closed) stream.abort()
          }, LIVE_STOP_GRACE_MS)
        },
      )
      stream.onAbort(() => {
        unsubscribe()
        wake()
      })
      const written = (write: Promise<unknown>) => writtenWithin(stream, write, LIVE_HEARTBEAT_MS)
      try {
        if (!(await written(stream.writeSSE({ event: 'ready', data: '{}' })))) return
        let id = 0
        while (!ended && !stream.aborted && !stream.closed) {
          const next = queue.shift()
          if (next !== undefined) {
            if (!(await written(stream.writeSSE({ event: 'orders', id: String(++id), data: next })))) return
            continue
          }
          const woke = await Promise.race([
            new Promise<boolean>((resolve) => (wake = () => resolve(true))),
            stream.sleep(LIVE_HEARTBEAT_MS).then(() => false),
          ])
          if (!woke && !stream.aborted && !(await written(stream.write(': keep-alive\n\n')))) return
        }
      } finally {
        unsubscribe()
        liveClients--
      }
    })
  })

  app.notFound(notFound)
  app.onError(createErrorHandler({ logger, known: consoleKnownErrors }))
  return app
}

/** A dead letter's id is its DLQ sequence: digits only, from 1 (not `0x10`, `1e3` or `-1`). */
function deadLetterId(c: Context): number {
  return parseDeadLetterId(c.req.param('id') ?? '')
}
