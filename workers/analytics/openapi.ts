/**
 * The analytics worker's routes for its OpenAPI document (`GET
 * /openapi.json`): the summary's and the stream's answers, with schemas
 * checked against the types the routes return at compile time. docs/api.md
 * says the same in prose.
 */
import * as v from 'valibot'
import { CancellationReasonSchema } from '../../schemas/events.ts'
import { isCalendarDate } from '../../schemas/primitives.ts'
import {
  createOpenApiDocument,
  type OpenApiDocument,
  type OperationDoc,
  type Same,
} from '../../shared/http/openapi.ts'
import {
  errorResponse,
  forbidden,
  internalError,
  payloadTooLarge,
  rateLimited,
  RESPONSE_HEADERS,
  unauthorized,
  storeUnavailable,
  API_KEY_SCHEME,
} from '../../shared/http/openapi-responses.ts'
import { SMALL_BODY_BYTES } from '../../shared/http/observability-routes.ts'
import { onEveryRoute, sharedOperations } from '../../shared/http/openapi-routes.ts'
import { VERSION } from '../../shared/http/service-index.ts'
import type { Summary } from './app.ts'
import type { Totals, WindowView } from './summary.ts'

const count = v.pipe(v.number(), v.integer(), v.minValue(0))
const cents = v.pipe(v.number(), v.integer())
/** An ISO 8601 time: the summary's query (app.ts) and its answer. */
export const IsoTime = v.pipe(
  v.string(),
  v.isoTimestamp('must be an ISO 8601 timestamp, e.g. 2026-01-01T10:00:00Z'),
  v.check(isCalendarDate, 'must name a day that exists, e.g. not 2026-02-30'),
)

const TotalsEntries = {
  created: count,
  confirmed: count,
  cancelled: v.record(CancellationReasonSchema, count),
  cancelledTotal: count,
  conversionRate: v.nullable(v.pipe(v.number(), v.minValue(0))),
  revenue: v.record(v.string(), v.object({ grossCents: cents, refundedCents: cents, netCents: cents })),
  refunds: v.object({ count, cents: v.record(v.string(), cents) }),
  topSkus: v.array(v.object({ sku: v.string(), units: count })),
  sagaDurationMs: v.object({
    count,
    p50: v.nullable(v.pipe(v.number(), v.minValue(0))),
    p99: v.nullable(v.pipe(v.number(), v.minValue(0))),
  }),
}
const TotalsSchema = v.object(TotalsEntries)
const WindowViewSchema = v.object({ minute: IsoTime, ...TotalsEntries })
const SummarySchema = v.object({
  from: IsoTime,
  to: IsoTime,
  generation: v.string(),
  totals: TotalsSchema,
  windows: v.array(WindowViewSchema),
})

type Loose<T> = { [K in keyof T]: T[K] extends Record<string, number> ? Record<string, number> : T[K] }
const _described: [
  Same<Loose<v.InferOutput<typeof TotalsSchema>>, Loose<Totals>>,
  Same<Loose<v.InferOutput<typeof WindowViewSchema>>, Loose<WindowView>>,
  Same<Omit<v.InferOutput<typeof SummarySchema>, 'totals' | 'windows'>, Omit<Summary, 'totals' | 'windows'>>,
] = [true, true, true]

const admin = { scheme: 'apiKey', roles: ['admin'] } as const
const keyed = {
  401: unauthorized(),
  403: forbidden('admin'),
  429: rateLimited(
    "The admin key's requests (RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST), or the client address's failed attempts, are used up.",
  ),
}
const storeDown = storeUnavailable('The analytics store')

const analyticsOperations: OperationDoc[] = [
  {
    method: 'get',
    path: '/analytics/summary',
    operationId: 'getAnalyticsSummary',
    summary: 'Totals and per-minute windows of a time range (event time)',
    description:
      'Minutes are whole: `from` rounds down, `to` up. Without `to`: up to the current minute, included; without `from`: the hour before `to` (not before 1970). At most ANALYTICS_SUMMARY_MAX_RANGE_MS.',
    tags: ['analytics'],
    security: admin,
    parameters: [
      {
        name: 'from',
        in: 'query',
        description:
          'First minute: an ISO 8601 time, a date (UTC midnight) or epoch milliseconds (0, or 11 to 15 digits). Empty: not given.',
        schema: v.string(),
      },
      {
        name: 'to',
        in: 'query',
        description: 'End, exclusive, in the same forms as `from`. Empty: not given.',
        schema: v.string(),
      },
      {
        name: 'top',
        in: 'query',
        description: 'How many skus in `topSkus` (1-100, default 10).',
        schema: v.pipe(v.string(), v.regex(/^\d{1,3}$/)),
      },
    ],
    responses: {
      200: {
        description: 'The summary.',
        body: { schema: { name: 'AnalyticsSummary', schema: SummarySchema } },
      },
      400: errorResponse(
        'A parameter that is not valid (every issue listed), `from` not before `to`, or a range over the limit.',
        ['invalid_query', 'invalid_range', 'range_too_long'],
        { issues: true },
      ),
      ...keyed,
      500: internalError(),
      503: storeDown,
    },
  },
  {
    method: 'get',
    path: '/analytics/stream',
    operationId: 'streamAnalyticsWindows',
    summary: 'Window updates as Server-Sent Events',
    description:
      'First `event: ready` (`{"intervalMs": n}`), then `event: window` with a window (the same shape as in the summary) each time one changed, at most every ANALYTICS_STREAM_INTERVAL_MS; a comment line keeps a quiet stream open. A client that reads nothing for ANALYTICS_STREAM_HEARTBEAT_MS (at least 1 s) while a write waits is dropped. HEAD answers the headers only.',
    tags: ['analytics'],
    security: admin,
    responses: {
      200: {
        description: 'The stream.',
        body: { contentType: 'text/event-stream', schema: v.string() },
      },
      400: errorResponse('A query parameter: the stream takes none.', ['invalid_query']),
      ...keyed,
      503: errorResponse('Too many stream clients (ANALYTICS_STREAM_MAX_CLIENTS).', ['unavailable'], {
        headers: ['Retry-After'],
      }),
    },
  },
]

let built: OpenApiDocument | undefined

export function analyticsOpenApi(): OpenApiDocument {
  built ??= createOpenApiDocument({
    title: 'Analytics',
    version: VERSION,
    description:
      'Order analytics per minute of event time, computed from the order events exactly once. Errors are JSON `{error, message?, issues?}`.',
    tags: [
      { name: 'analytics', description: 'Summaries and the live stream: an admin key.' },
      {
        name: 'service',
        description: 'Service index, health, readiness, metrics and this document: no key.',
      },
    ],
    securitySchemes: API_KEY_SCHEME,
    headers: RESPONSE_HEADERS,
    operations: onEveryRoute([...analyticsOperations, ...sharedOperations()], {
      413: payloadTooLarge(`${SMALL_BODY_BYTES} bytes`),
    }),
  })
  return built
}
