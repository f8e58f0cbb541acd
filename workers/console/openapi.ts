/**
 * The console's routes for its OpenAPI document (`GET /openapi.json`, the
 * docs page at `/docs`): the page, the API under `/console/api/` (an admin
 * key) and the shared routes. Each answer's schema is checked against the
 * type the route returns at compile time. docs/console.md says the same in
 * prose.
 */
import * as v from 'valibot'
import { CancellationReasonSchema } from '../../schemas/events.ts'
import {
  createOpenApiDocument,
  type OpenApiDocument,
  type OperationDoc,
  type Same,
} from '../../shared/http/openapi.ts'
import {
  API_KEY_SCHEME,
  errorResponse,
  forbidden,
  internalError,
  payloadTooLarge,
  rateLimited,
  RESPONSE_HEADERS,
  unauthorized,
} from '../../shared/http/openapi-responses.ts'
import { onEveryRoute, sharedOperations } from '../../shared/http/openapi-routes.ts'
import { VERSION } from '../../shared/http/service-index.ts'
import type {
  DeadLetterDetail,
  DeadLetterSummary,
  ReplayResult,
} from '../../shared/nats/dead-letter-admin.ts'
import { ORDER_STATUSES, type IndexEntry } from './index-subjects.ts'
import { BREAKER_STATES, type BreakerView, type ConsumerLag, type StockLevel } from './operations.ts'
import type { HistoryEntrySchema } from './timeline.ts'
import {
  OrderRecordSchema,
  type ConsumerStep,
  type DeadLetterRef,
  type OrderRecord,
  type TimelineEvent,
} from './timeline.ts'

/** The console's body limit (app.ts). */
export const CONSOLE_MAX_BODY_BYTES = 16 * 1024

const count = v.pipe(v.number(), v.integer(), v.minValue(0))
const seq = v.pipe(v.number(), v.integer(), v.minValue(1))

const IndexEntrySchema = v.object({
  orderId: v.string(),
  status: v.picklist(ORDER_STATUSES),
  reason: v.exactOptional(v.string()),
  customerId: v.exactOptional(v.string()),
  createdMs: count,
  amountCents: v.exactOptional(v.number()),
  updatedAt: v.exactOptional(v.string()),
  /** `express` or `standard`; absent in an entry written by an earlier release. */
  priority: v.exactOptional(v.string()),
})
const OrdersPageSchema = v.object({
  orders: v.array(IndexEntrySchema),
  /** The `cursor` of the next page; null on the last. */
  next: v.nullable(v.string()),
})

const ConsumerStepSchema = v.object({
  consumer: v.string(),
  state: v.picklist(['acked', 'delivered', 'waiting', 'dead_lettered']),
  deliveries: v.nullable(count),
  retries: v.array(v.object({ deliveries: count, at: v.string() })),
})
const TimelineEventSchema = v.object({
  event: v.string(),
  status: v.string(),
  at: v.string(),
  message: v.nullable(
    v.object({
      seq,
      subject: v.string(),
      storedAt: v.string(),
      publisher: v.nullable(v.string()),
      msgId: v.nullable(v.string()),
      scheduled: v.boolean(),
      payload: v.record(v.string(), v.unknown()),
    }),
  ),
  consumers: v.array(ConsumerStepSchema),
  compensation: v.boolean(),
})
const DeadLetterRefSchema = v.object({
  id: seq,
  subject: v.string(),
  consumer: v.string(),
  deliveries: v.nullable(count),
  reason: v.string(),
  sequence: v.nullable(count),
  time: v.string(),
  present: v.boolean(),
})
const OrderViewSchema = v.object({
  order: OrderRecordSchema,
  timeline: v.object({
    events: v.array(TimelineEventSchema),
    deadLetters: v.array(DeadLetterRefSchema),
    /** Direct gets it took. */
    reads: count,
  }),
})

const DeadLetterSummaryEntries = {
  id: seq,
  dlqSubject: v.string(),
  time: v.string(),
  subject: v.nullable(v.string()),
  stream: v.nullable(v.string()),
  sequence: v.nullable(count),
  consumer: v.nullable(v.string()),
  deliveries: v.nullable(count),
  reason: v.string(),
}
const DeadLetterSummarySchema = v.object(DeadLetterSummaryEntries)
const headersSchema = v.record(v.string(), v.array(v.string()))
const DeadLetterDetailSchema = v.object({
  ...DeadLetterSummaryEntries,
  headers: headersSchema,
  payload: v.string(),
})
const ReplayResultSchema = v.object({
  id: seq,
  subject: v.string(),
  msgId: v.string(),
  headers: headersSchema,
  bytes: count,
  stream: v.string(),
  seq,
  duplicate: v.boolean(),
})

const ConsumerLagSchema = v.object({
  stream: v.string(),
  name: v.string(),
  pending: count,
  ackPending: count,
  redelivered: count,
  ackFloor: count,
  delivered: count,
  lastActive: v.nullable(v.string()),
})
const BreakerViewSchema = v.object({
  state: v.picklist([...BREAKER_STATES, 'unknown']),
  paused: v.array(v.string()),
  error: v.exactOptional(v.string()),
})
const StockLevelSchema = v.object({
  sku: v.string(),
  onHand: count,
  reserved: count,
  available: v.number(),
  priceCents: count,
  sold: count,
})

/** An answer of the order service's cancellation API, passed on as it came. */
const OrderServiceAnswerSchema = v.record(v.string(), v.unknown())

const _described: [
  Same<v.InferOutput<typeof IndexEntrySchema>, IndexEntry>,
  Same<v.InferOutput<typeof ConsumerStepSchema>, ConsumerStep>,
  Same<v.InferOutput<typeof TimelineEventSchema>, TimelineEvent>,
  Same<v.InferOutput<typeof DeadLetterRefSchema>, DeadLetterRef>,
  Same<v.InferOutput<typeof HistoryEntrySchema>, OrderRecord['history'][number]>,
  Same<v.InferOutput<typeof DeadLetterSummarySchema>, DeadLetterSummary>,
  Same<v.InferOutput<typeof DeadLetterDetailSchema>, DeadLetterDetail>,
  Same<v.InferOutput<typeof ReplayResultSchema>, ReplayResult>,
  Same<v.InferOutput<typeof ConsumerLagSchema>, ConsumerLag>,
  Same<v.InferOutput<typeof BreakerViewSchema>, BreakerView>,
  Same<v.InferOutput<typeof StockLevelSchema>, StockLevel>,
] = [true, true, true, true, true, true, true, true, true, true, true]

const admin = { scheme: 'apiKey', roles: ['admin'] } as const
const keyed = {
  401: unauthorized(),
  403: forbidden('admin'),
  429: rateLimited("The client address's failed attempts are used up."),
}
const natsDown = errorResponse('NATS did not answer in time.', ['unavailable'], { headers: ['Retry-After'] })
const deadLetterId = {
  name: 'id',
  in: 'path',
  required: true,
  description: "The dead letter's sequence in the DLQ stream (digits, from 1).",
  schema: v.string(),
} as const
const badDeadLetterId = errorResponse('The id is not a DLQ sequence, or a query parameter was given.', [
  'invalid_dead_letter_id',
  'invalid_query',
])
const noQuery = errorResponse('A query parameter: the route takes none.', ['invalid_query'])
const orderIdParameter = {
  name: 'orderId',
  in: 'path',
  required: true,
  description: 'A UUID, in any case.',
  schema: v.string(),
} as const
const subjectParameter = {
  name: 'subject',
  in: 'query',
  description: 'Only the dead letters on this DLQ subject (`dlq.<original subject>`).',
  schema: v.string(),
} as const

const pageFile = (path: string, operationId: string, summary: string, contentType: string): OperationDoc => ({
  method: 'get',
  path,
  operationId,
  summary,
  tags: ['page'],
  responses: { 200: { description: summary, body: { contentType, schema: v.string() } } },
})

const pageOperations: OperationDoc[] = [
  pageFile('/console', 'getConsolePage', 'The console page (it asks for the admin key)', 'text/html'),
  pageFile('/console/console.js', 'getConsoleScript', "The page's script", 'text/javascript'),
  pageFile('/console/console.css', 'getConsoleStyle', "The page's style sheet", 'text/css'),
]

const apiOperations: OperationDoc[] = [
  {
    method: 'get',
    path: '/console/api/orders',
    operationId: 'searchOrders',
    summary: 'Recent orders, newest first, by status, reason or customer',
    tags: ['orders'],
    security: admin,
    parameters: [
      {
        name: 'status',
        in: 'query',
        description: ORDER_STATUSES.join(', '),
        schema: v.picklist(ORDER_STATUSES),
      },
      {
        name: 'reason',
        in: 'query',
        description: 'A cancellation reason.',
        schema: CancellationReasonSchema,
      },
      {
        name: 'customer',
        in: 'query',
        description: 'A customer id (at most 64 characters).',
        schema: v.string(),
      },
      { name: 'limit', in: 'query', description: 'Orders per page, 1-100 (default 50).', schema: v.string() },
      { name: 'cursor', in: 'query', description: 'The `next` of the previous page.', schema: v.string() },
    ],
    responses: {
      200: { description: 'A page of orders.', body: { schema: OrdersPageSchema } },
      400: errorResponse(
        'An unknown or repeated parameter, or a value that is not valid (every problem in the message).',
        ['invalid_search'],
      ),
      ...keyed,
      503: natsDown,
    },
  },
  {
    method: 'get',
    path: '/console/api/orders/{orderId}',
    operationId: 'getOrderTimeline',
    summary: 'An order with its timeline: events, consumers, retries, dead letters',
    tags: ['orders'],
    security: admin,
    parameters: [orderIdParameter],
    responses: {
      200: { description: 'The order and its timeline.', body: { schema: OrderViewSchema } },
      400: errorResponse('The id is not a UUID, or a query parameter was given.', [
        'invalid_order_id',
        'invalid_query',
      ]),
      ...keyed,
      404: errorResponse('No such order.', ['not_found']),
      500: errorResponse(
        'The order-status record is not one (not JSON, or without its status and history): `invalid_record`, retrying will not help; or an unexpected fault (`internal`, the detail is in the log only).',
        ['invalid_record', 'internal'],
      ),
      503: natsDown,
    },
  },
  {
    method: 'post',
    path: '/console/api/orders/{orderId}/cancel',
    operationId: 'cancelOrder',
    summary: "Cancels an order through the order service's cancellation API, with the operator's key",
    description:
      "The order service's answer is passed on (its status and body: docs/api.md `POST /orders/{orderId}/cancel`); 503 when it does not answer.",
    tags: ['orders'],
    security: admin,
    parameters: [orderIdParameter],
    responses: {
      200: { description: 'Already cancelled: the order.', body: { schema: OrderServiceAnswerSchema } },
      202: { description: 'The cancellation is requested.', body: { schema: OrderServiceAnswerSchema } },
      400: {
        description:
          'The id is not a UUID (`invalid_order_id`), a query parameter was given (`invalid_query`), or the order service refused it.',
        body: { schema: OrderServiceAnswerSchema },
      },
      ...keyed,
      404: {
        description: 'The order service knows no such order.',
        body: { schema: OrderServiceAnswerSchema },
      },
      429: rateLimited(
        "The client address's failed attempts are used up, or the order service's limit for the operator's key (its answer and `Retry-After` passed on).",
      ),
      500: {
        description:
          "The order service's 500, passed on: `invalid_record` (a stored record of the order does not parse; retrying will not help), or an unexpected fault.",
        body: { schema: OrderServiceAnswerSchema },
      },
      503: {
        description:
          'The order service, or NATS behind it, did not answer. When the request was sent the cancellation may have been requested (the message says so): cancelling again is safe.',
        headers: ['Retry-After'],
        body: { schema: OrderServiceAnswerSchema },
      },
    },
  },
  {
    method: 'get',
    path: '/console/api/dead-letters',
    operationId: 'listDeadLetters',
    summary: 'The newest dead letters (at most 500), newest first',
    tags: ['dead letters'],
    security: admin,
    parameters: [subjectParameter],
    responses: {
      200: {
        description: 'The dead letters.',
        body: { schema: v.object({ deadLetters: v.array(DeadLetterSummarySchema) }) },
      },
      400: errorResponse('A parameter other than `subject`, or given twice; a subject outside `dlq.`.', [
        'invalid_query',
        'invalid_subject',
      ]),
      ...keyed,
      503: natsDown,
    },
  },
  {
    method: 'get',
    path: '/console/api/dead-letters/{id}',
    operationId: 'getDeadLetter',
    summary: 'One dead letter: its headers and body',
    tags: ['dead letters'],
    security: admin,
    parameters: [deadLetterId],
    responses: {
      200: { description: 'The dead letter.', body: { schema: DeadLetterDetailSchema } },
      400: badDeadLetterId,
      ...keyed,
      404: errorResponse('No dead letter with that id.', ['not_found']),
      503: natsDown,
    },
  },
  {
    method: 'post',
    path: '/console/api/dead-letters/{id}/replay',
    operationId: 'replayDeadLetter',
    summary: 'Publishes the original of a dead letter again, read back from its stream',
    tags: ['dead letters'],
    security: admin,
    parameters: [deadLetterId],
    responses: {
      200: {
        description: 'Replayed (or replayed before: `duplicate`).',
        body: { schema: ReplayResultSchema },
      },
      400: badDeadLetterId,
      ...keyed,
      404: errorResponse('No dead letter with that id.', ['not_found']),
      409: errorResponse(
        'Not replayable: no original, a schedule, another stream, or its original has left the stream.',
        ['not_replayable'],
      ),
      503: natsDown,
    },
  },
  {
    method: 'post',
    path: '/console/api/dead-letters/{id}/purge',
    operationId: 'purgeDeadLetter',
    summary: 'Removes one dead letter (`purged: 0` when it was not there)',
    tags: ['dead letters'],
    security: admin,
    parameters: [deadLetterId],
    responses: {
      200: {
        description: 'What was removed.',
        body: { schema: v.object({ id: seq, purged: v.picklist([0, 1]) }) },
      },
      400: badDeadLetterId,
      ...keyed,
      503: natsDown,
    },
  },
  {
    method: 'post',
    path: '/console/api/dead-letters/purge',
    operationId: 'purgeDeadLetters',
    summary: 'Removes every dead letter, or those on one subject',
    tags: ['dead letters'],
    security: admin,
    parameters: [subjectParameter],
    responses: {
      200: { description: 'How many were removed.', body: { schema: v.object({ purged: count }) } },
      400: errorResponse(
        'A parameter other than `subject`, or given twice (nothing is removed); a subject outside `dlq.`.',
        ['invalid_query', 'invalid_subject'],
      ),
      ...keyed,
      503: natsDown,
    },
  },
  {
    method: 'get',
    path: '/console/api/consumers',
    operationId: 'listConsumers',
    summary: "Every saga consumer's backlog, and the order index's",
    tags: ['operations'],
    security: admin,
    responses: {
      200: {
        description: 'The consumers.',
        body: { schema: v.object({ consumers: v.array(ConsumerLagSchema) }) },
      },
      400: noQuery,
      ...keyed,
      503: natsDown,
    },
  },
  {
    method: 'get',
    path: '/console/api/breaker',
    operationId: 'getBreaker',
    summary: "The payment worker's circuit breaker and paused consumers (`unknown` when it does not answer)",
    tags: ['operations'],
    security: admin,
    responses: {
      200: { description: 'The breaker.', body: { schema: BreakerViewSchema } },
      400: noQuery,
      ...keyed,
    },
  },
  {
    method: 'get',
    path: '/console/api/stock',
    operationId: 'listStock',
    summary: 'Every sku: on hand, held by open orders, available, sold',
    tags: ['operations'],
    security: admin,
    responses: {
      200: {
        description:
          "Every sku's stock, sorted by sku; `invalid`: the skus whose record does not parse as a stock record (the inventory service answers them 500 `invalid_record`; an admin PUT replaces it); a well-formed record the services refuse for its seal is shown as stored (the console holds no record key).",
        body: { schema: v.object({ stock: v.array(StockLevelSchema), invalid: v.array(v.string()) }) },
      },
      400: noQuery,
      ...keyed,
      503: natsDown,
    },
  },
  {
    method: 'get',
    path: '/console/api/live',
    operationId: 'streamOrderChanges',
    summary: 'Order status changes as Server-Sent Events',
    description:
      "First `event: ready`, then `event: orders` with a JSON array of changes: each has the fields of a row of `GET /console/api/orders` that its record holds (`orderId`, `status`, `reason`, `customerId`, `createdMs`, `amountCents`, `updatedAt`, `priority`) and the record's `createdAt` (ISO 8601); a comment line keeps a quiet stream open.",
    tags: ['orders'],
    security: admin,
    responses: {
      200: { description: 'The stream.', body: { contentType: 'text/event-stream', schema: v.string() } },
      400: noQuery,
      ...keyed,
      503: errorResponse('Too many live clients.', ['unavailable']),
    },
  },
]

let built: OpenApiDocument | undefined

export function consoleOpenApi(): OpenApiDocument {
  built ??= createOpenApiDocument({
    title: 'Console',
    version: VERSION,
    description:
      'The operator console: its page, and its API for the page (an admin key): orders and their timelines, dead letters, consumers, the payment breaker and stock. Errors are JSON `{error, message?}`.',
    tags: [
      { name: 'page', description: 'The page and its files: no key (the page asks for one).' },
      { name: 'orders', description: 'Orders, timelines, cancellation, live changes: an admin key.' },
      { name: 'dead letters', description: 'Browse, replay and purge dead letters: an admin key.' },
      { name: 'operations', description: 'Consumers, breaker and stock: an admin key.' },
      {
        name: 'service',
        description: 'Service index, health, readiness, metrics and this document: no key.',
      },
    ],
    securitySchemes: API_KEY_SCHEME,
    headers: RESPONSE_HEADERS,
    operations: onEveryRoute([...pageOperations, ...apiOperations, ...sharedOperations()], {
      413: payloadTooLarge(`${CONSOLE_MAX_BODY_BYTES} bytes`),
      500: internalError(),
    }),
  })
  return built
}
