/*
 * The analytics worker's HTTP surface: `GET /analytics/summary` (JSON),
 * `GET /analytics/stream` (Server-Sent Events of window updates), both for an
 * admin API key (analytics is operator data); `GET /`, `/health`, `/ready`,
 * `/metrics` and `/openapi.json` open like every service's.
 */
import { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import * as v from 'valibot'
import type { ApiKeyVerifier } from '../../shared/http/api-keys.ts'
import { hasApiKey, requireApiKey, type AuthEnv } from '../../shared/http/auth.ts'
import { createApiDocsRoutes } from '../../shared/http/api-docs.ts'
import { swaggerUiAssets } from '../../shared/http/swagger-ui-assets.ts'
import { limitBody, limitDeclaredBody } from '../../shared/http/body-limit.ts'
import { createErrorHandler, notFound } from '../../shared/http/errors.ts'
import {
  createObservabilityRoutes,
  httpMetrics,
  SMALL_BODY_BYTES,
  type Readiness,
} from '../../shared/http/observability-routes.ts'
import type { RateLimiter } from '../../shared/http/rate-limit.ts'
import { serviceIndex } from '../../shared/http/service-index.ts'
import { SSE_HEADERS, writtenWithin } from '../../shared/http/sse.ts'
import { toIssueViews } from '../../shared/http/validation-issues.ts'
import { isNatsUnavailable } from '../../shared/nats/errors.ts'
import { KvRecordError } from '../../shared/nats/kv-json.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import { MINUTE_MS, toMinute } from './domain.ts'
import type { WindowFeed } from './feed.ts'
import { analyticsOpenApi } from './openapi.ts'
import { parseQueryTime, QueryTime } from './query-time.ts'
import type { Totals, WindowView } from './summary.ts'
import { headAsGet } from '../../shared/http/head.ts'
import { securityHeaders } from '../../shared/http/security-headers.ts'
import { logEvery } from '../../shared/observability/log-every.ts'
import { natsRefusalLines } from '../../shared/observability/nats-refusal-lines.ts'

/**
 * The generation of windows this process applies to and reads is no longer
 * the bucket's active one: its `active` record is gone (the bucket erased) or
 * names another generation (a replay by another process). Its figures would
 * be wrong, so the summary answers 503 and `/ready` fails until a restart,
 * with a replay (`ANALYTICS_REPLAY_FROM`) when the windows were erased.
 */
export class GenerationGoneError extends Error {
  override readonly name = 'GenerationGoneError'
}

export interface SummaryRange {
  fromMinute: number
  toMinute: number
  top: number
}

export interface Summary {
  /** First minute, inclusive (ISO 8601). */
  from: string
  /** Last minute, exclusive. */
  to: string
  generation: string
  totals: Totals
  /** The minutes of the range that have anything, in order. */
  windows: WindowView[]
}

export interface AnalyticsAppDeps {
  logger: Logger
  metrics: Metrics
  checkReady: () => Promise<Readiness>
  /** API keys (API_KEYS): the analytics routes want an admin key. */
  verifier: ApiKeyVerifier
  limiter: RateLimiter
  summarize: (range: SummaryRange) => Promise<Summary>
  /** Whether this process's windows are no longer the active generation (then the routes answer 503). */
  checkGeneration?: () => Promise<Error | undefined>
  feed: WindowFeed
  maxRangeMs: number
  streamIntervalMs: number
  heartbeatMs: number
  now?: () => Date
}

const SummaryQuerySchema = v.strictObject({
  from: v.optional(QueryTime),
  to: v.optional(QueryTime),
  top: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d{1,3}$/, 'must be an integer from 1 to 100'),
      v.transform(Number),
      v.minValue(1, 'must be an integer from 1 to 100'),
      v.maxValue(100, 'must be an integer from 1 to 100'),
    ),
  ),
})

/** Without `from`: the hour before `to` (the longest range allowed, when shorter); without `to`: up to the current minute, included. */
const DEFAULT_RANGE_MS = 60 * MINUTE_MS
const DEFAULT_TOP = 10

export function createAnalyticsApp(deps: AnalyticsAppDeps) {
  const { logger, metrics, verifier, limiter, feed, now = () => new Date() } = deps
  // A default range never longer than the range allowed (whole minutes, at least one).
  const defaultRangeMs = Math.min(DEFAULT_RANGE_MS, Math.max(MINUTE_MS, toMinute(deps.maxRangeMs)))
  const app = new Hono<AuthEnv>()
  app.use(headAsGet)
  app.use(securityHeaders)
  app.use(httpMetrics(metrics))
  app.use(limitDeclaredBody(SMALL_BODY_BYTES))
  app.use('/analytics/*', requireApiKey({ verifier, roles: ['admin'], limiter }))
  app.use(limitBody(SMALL_BODY_BYTES, { hold: hasApiKey }))
  app.get('/', serviceIndex('analytics', app))
  app.route('/', createObservabilityRoutes({ metrics, checkReady: deps.checkReady }))
  app.route('/', createApiDocsRoutes({ document: analyticsOpenApi, assets: swaggerUiAssets }))

  app.get('/analytics/summary', async (c) => {
    // From the URL, not the parsed parameters: those leave out a nameless one (`?=`), which the schema refuses as unknown.
    const params = [...new URL(c.req.url).searchParams]
    const names = new Set<string>()
    // Seen before: adding it does not grow the set.
    const repeated = params.find(([name]) => names.size === names.add(name).size)
    if (repeated !== undefined) {
      return c.json(
        { error: 'invalid_query', message: `${JSON.stringify(repeated[0].slice(0, 40))}: give it once` },
        400,
      )
    }
    // An empty parameter of its own (`?from=&to=`) is one not given; any other name, empty or not, is an unknown one.
    const own = new Set(['from', 'to', 'top'])
    const given = Object.fromEntries(params.filter(([name, value]) => !own.has(name) || value !== ''))
    const parsed = v.safeParse(SummaryQuerySchema, given)
    if (!parsed.success) {
      const issues = toIssueViews(parsed.issues)
      const first = issues[0]
      return c.json(
        {
          error: 'invalid_query',
          message: `${first?.path ?? 'query'}: ${first?.message ?? 'invalid'}`,
          issues,
        },
        400,
      )
    }
    const { from, to, top = DEFAULT_TOP } = parsed.output
    const timeOf = (text: string) => parseQueryTime(text) ?? Number.NaN
    const until = to === undefined ? now().getTime() + 1 : timeOf(to)
    // Compared before rounding to whole minutes: `from` after `to` in one minute is no range either.
    if (from !== undefined && timeOf(from) >= until)
      return c.json(
        {
          error: 'invalid_range',
          message:
            to === undefined ? 'from must be before now (to, when not given)' : 'from must be before to',
        },
        400,
      )
    const end = Math.ceil(until / MINUTE_MS) * MINUTE_MS
    // Nothing is before 1970: a default `from` stops there.
    const start = Math.max(0, toMinute(from === undefined ? end - defaultRangeMs : timeOf(from)))
    if (start >= end)
      return c.json(
        {
          error: 'invalid_range',
          message:
            from === undefined
              ? 'to must be after 1970-01-01T00:00:00Z (from, when not given)'
              : 'from must be before to',
        },
        400,
      )
    if (end - start > deps.maxRangeMs)
      return c.json(
        {
          error: 'range_too_long',
          message: `a summary covers at most ${deps.maxRangeMs / MINUTE_MS} minutes (ANALYTICS_SUMMARY_MAX_RANGE_MS)`,
        },
        400,
      )
    return c.json(await deps.summarize({ fromMinute: start, toMinute: end, top }))
  })

  app.get('/analytics/stream', async (c) => {
    // From the URL, not the parsed parameters: those leave out a nameless one (`?=`).
    const search = new URL(c.req.url).search
    const unknown = search === '' ? undefined : (Object.keys(c.req.queries())[0] ?? '')
    if (unknown !== undefined)
      return c.json(
        {
          error: 'invalid_query',
          message: `${JSON.stringify(unknown.slice(0, 40))}: the stream takes no query parameters`,
        },
        400,
      )
    // HEAD: the stream's headers, no stream (a body nobody reads would hold a client's place).
    if (c.req.method === 'HEAD') return c.body(null, 200, SSE_HEADERS)
    // A stream does not need NATS to open: a check that fails lets it open.
    const gone = await deps.checkGeneration?.().catch(() => undefined)
    if (gone !== undefined) throw gone
    const pending = new Map<string, WindowView>()
    const subscription = feed.subscribe((view) => pending.set(view.minute, view))
    if (subscription === null) {
      c.header('Retry-After', '5')
      const message = feed.isClosed()
        ? 'the service is stopping; retry shortly'
        : 'too many stream clients; retry later'
      return c.json({ error: 'unavailable', message }, 503)
    }
    // A client that stops reading is dropped once a write has waited a heartbeat interval.
    const writeDeadlineMs = Math.max(deps.heartbeatMs, 1_000)
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => subscription.cancel())
      const written = (write: Promise<unknown>) => writtenWithin(stream, write, writeDeadlineMs)
      let id = 0
      let quietSince = Date.now()
      if (
        !(await written(
          stream.writeSSE({ event: 'ready', data: JSON.stringify({ intervalMs: deps.streamIntervalMs }) }),
        ))
      )
        return
      for (;;) {
        const ended = await Promise.race([
          subscription.closed.then(() => true),
          stream.sleep(deps.streamIntervalMs).then(() => false),
        ])
        if (ended || stream.aborted || stream.closed) break
        if (pending.size > 0) {
          const views = [...pending.values()].sort((a, b) => (a.minute < b.minute ? -1 : 1))
          pending.clear()
          for (const view of views)
            if (
              !(await written(
                stream.writeSSE({ event: 'window', id: String(++id), data: JSON.stringify(view) }),
              ))
            )
              return
          quietSince = Date.now()
        } else if (Date.now() - quietSince >= deps.heartbeatMs) {
          if (!(await written(stream.write(': keep-alive\n\n')))) return
          quietSince = Date.now()
        }
      }
      subscription.cancel()
    })
  })

  app.notFound(notFound)
  // Said once a minute while it lasts (every refused request would flood the log).
  const { unavailable } = natsRefusalLines()
  const unreadable = logEvery('error', 'an analytics record fails its check; answering 500 until a replay')
  app.onError(
    createErrorHandler({
      logger,
      known: (error, c) => {
        // Logged by the worker's own check, once a minute.
        if (error instanceof GenerationGoneError)
          return c.json({ error: 'unavailable', message: error.message }, 503)
        // A window not as its writer stored it (another writer of the bucket, or another RECORD_KEYS key).
        if (error instanceof KvRecordError) {
          unreadable(logger, { err: error, path: c.req.path })
          return c.json(
            {
              error: 'internal',
              message: `${error.message}: a replay (ANALYTICS_REPLAY_FROM) rebuilds the windows`,
            },
            500,
          )
        }
        if (!isNatsUnavailable(error)) return undefined
        unavailable(logger, { err: error, path: c.req.path })
        c.header('Retry-After', '1')
        return c.json(
          { error: 'unavailable', message: 'the analytics store is not answering; retry shortly' },
          503,
        )
      },
    }),
  )
  return app
}
