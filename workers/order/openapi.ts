/**
 * The order intake's routes for its OpenAPI document (`GET /openapi.json`),
 * from the schemas `app.ts` parses with. Served on Bun, Node and Deno; the
 * Worker serves the same contract without this document (its bundle has no
 * room for it). docs/api.md says the same in prose.
 */
import * as v from 'valibot'
import { CreateOrderRequestV1, CreateOrderRequestV2 } from '../../schemas/order-request.ts'
import { OrderStatusV1, OrderStatusValueSchema } from '../../schemas/order-status.ts'
import { OrderIdSchema } from '../../schemas/primitives.ts'
import {
  createOpenApiDocument,
  type OpenApiDocument,
  type OperationDoc,
  type ParameterDoc,
} from '../../shared/http/openapi.ts'
import {
  errorResponse,
  payloadTooLarge,
  rateLimited,
  RESPONSE_HEADERS,
  unauthorized,
  unsupportedMediaType,
} from '../../shared/http/openapi-responses.ts'
import { onEveryRoute, sharedOperations } from '../../shared/http/openapi-routes.ts'
import { VERSION } from '../../shared/http/service-index.ts'

const OrderStatus = { name: 'OrderStatus', schema: OrderStatusV1 }
const requests = [
  { name: 'CreateOrderRequestV1', schema: CreateOrderRequestV1 },
  { name: 'CreateOrderRequestV2', schema: CreateOrderRequestV2 },
]

export const OrderAcceptedSchema = v.object({
  orderId: OrderIdSchema,
  /** `pending` for a new order; a replay shows the order's current status. */
  status: OrderStatusValueSchema,
  correlationId: v.string(),
})

export const CancellationRequestedSchema = v.object({
  orderId: OrderIdSchema,
  /** The order's status when the cancellation was asked for. */
  status: OrderStatusValueSchema,
  cancellation: v.literal('requested'),
  correlationId: v.string(),
})

const orderKey = { scheme: 'apiKey', roles: ['client', 'admin'] } as const
const correlationId: ParameterDoc = {
  name: 'X-Correlation-ID',
  in: 'header',
  description: 'Kept when 1-128 visible ASCII characters, else a new UUID is used.',
  schema: v.pipe(v.string(), v.maxLength(128)),
}
const orderId: ParameterDoc = {
  name: 'orderId',
  in: 'path',
  description: 'The id the 202 of POST /orders gave; anything but a UUID is 400.',
  schema: OrderIdSchema,
}
const answers = {
  unauthorized: unauthorized(),
  rateLimited: rateLimited(
    "The key's rate (RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST) is used up, or the client address's failed attempts are.",
  ),
  unavailable: errorResponse(
    'NATS did not answer within NATS_REQUEST_TIMEOUT_MS; never a hang. With `orderId`, POST /orders was publishing that order when NATS stopped answering: it may be placed all the same, so retry with the same Idempotency-Key (or read the order later).',
    ['unavailable'],
    { headers: ['Retry-After'], extra: { orderId: v.optional(OrderIdSchema) } },
  ),
  internal: errorResponse(
    'An unexpected fault (the detail is in the log only), or `invalid_record`: a stored record of the order (its status, or the Idempotency-Key) does not parse; retrying will not help.',
    ['internal', 'invalid_record'],
  ),
  notFound: errorResponse(
    "No such order, or another client's (they look the same, and take as long). An id minted in the last 60 s is waited for up to ORDER_STATUS_WAIT_MS first.",
    ['not_found'],
  ),
  invalidOrderId: errorResponse('The id is not a UUID.', ['invalid_order_id']),
}

const orderOperations: OperationDoc[] = [
  {
    method: 'post',
    path: '/orders',
    operationId: 'placeOrder',
    summary: 'Place an order',
    description:
      'Accepted once JetStream has stored `orders.created`; the saga goes on without the client (poll the Location). The same Idempotency-Key with the same body, from the same API key, returns the same order for 25 hours.',
    tags: ['orders'],
    security: orderKey,
    parameters: [
      {
        name: 'Idempotency-Key',
        in: 'header',
        description: '1-128 visible ASCII characters; scoped to the API key.',
        schema: v.pipe(v.string(), v.regex(/^[\x21-\x7E]{1,128}$/)),
      },
      correlationId,
    ],
    requestBody: {
      description:
        "Version 2 (a `customer` object) or version 1 (`customerId`); at most ORDER_MAX_BODY_BYTES (64 KiB); 1-100 items, no sku twice, no unknown fields. Checked beyond the schema below (its published form stays as frozen; each is a 400 `invalid_order` naming the field): `unitPriceCents` at most 10000000000; a customer id with no invisible, control or private-use characters, not starting with a space or a combining mark nor ending with a space; `email` at most 254 characters and an address as Valibot's `email()` reads one (dot-separated parts of letters, digits and `_+-` before the @; after it, letters and digits joined by single dots or hyphens, ending in a label of 2 letters or more).",
      body: { schema: v.union([CreateOrderRequestV2, CreateOrderRequestV1]) },
    },
    responses: {
      202: {
        description:
          'Accepted, or replayed for its Idempotency-Key (the order an earlier request placed, with `Idempotent-Replayed: true`).',
        body: { schema: OrderAcceptedSchema },
        headers: ['Location', 'Idempotent-Replayed'],
      },
      400: errorResponse(
        'A schema violation (every issue listed), a body that is not JSON, or an invalid Idempotency-Key.',
        ['invalid_order', 'malformed_json', 'invalid_idempotency_key'],
        { issues: true },
      ),
      401: answers.unauthorized,
      415: unsupportedMediaType(),
      422: errorResponse(
        'The Idempotency-Key was used with a different body, or a version 2 order is in another currency than the shop (ORDER_CURRENCY).',
        ['idempotency_key_reused', 'unsupported_currency'],
      ),
      429: answers.rateLimited,
      500: answers.internal,
      503: answers.unavailable,
    },
  },
  {
    method: 'get',
    path: '/orders/{orderId}',
    operationId: 'getOrder',
    summary: "An order's status record (the projection's)",
    description:
      'Readable with the key that placed it or an admin key. The status never moves backwards: pending, reserved, confirmed, or cancelled with a reason.',
    tags: ['orders'],
    security: orderKey,
    parameters: [orderId, correlationId],
    responses: {
      200: { description: 'The record.', body: { schema: OrderStatus } },
      400: answers.invalidOrderId,
      401: answers.unauthorized,
      404: answers.notFound,
      429: answers.rateLimited,
      500: answers.internal,
      503: answers.unavailable,
    },
  },
  {
    method: 'post',
    path: '/orders/{orderId}/cancel',
    operationId: 'cancelOrder',
    summary: 'Cancel an order',
    description:
      'Before payment its stock is released; a paid order is refunded and its stock returned. Idempotent. The workers carry it out: poll the Location.',
    tags: ['orders'],
    security: orderKey,
    parameters: [orderId, correlationId],
    responses: {
      200: { description: 'Already cancelled: the record.', body: { schema: OrderStatus } },
      202: {
        description: 'Cancellation requested.',
        body: { schema: CancellationRequestedSchema },
        headers: ['Location'],
      },
      400: answers.invalidOrderId,
      401: answers.unauthorized,
      404: answers.notFound,
      429: answers.rateLimited,
      500: answers.internal,
      503: answers.unavailable,
    },
  },
]

let built: OpenApiDocument | undefined

/** The intake's document, built once. */
export function orderOpenApi(): OpenApiDocument {
  if (built !== undefined) return built
  const document = createOpenApiDocument({
    title: 'Order intake',
    version: VERSION,
    description:
      'Places, reads and cancels orders of the order saga. Errors are JSON `{error, message?, issues?}`. Every response carries X-Correlation-ID. A client that goes away mid-request is logged and counted as 499; nothing is sent.',
    tags: [
      { name: 'orders', description: 'Orders: a client or admin API key.' },
      { name: 'service', description: 'Service index, health, readiness, metrics and docs: no key.' },
    ],
    securitySchemes: {
      apiKey: {
        description:
          'An API key: `Authorization: Bearer <key>`. The roles are the key roles a route accepts (API_KEYS).',
        responseHeaders: ['Cache-Control'],
      },
    },
    schemas: requests,
    headers: RESPONSE_HEADERS,
    everyResponseHeaders: ['X-Correlation-ID'],
    operations: onEveryRoute([...orderOperations, ...sharedOperations()], {
      413: payloadTooLarge('ORDER_MAX_BODY_BYTES'),
    }),
  })
  built = document
  return document
}
