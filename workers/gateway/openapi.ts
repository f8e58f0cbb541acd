/**
 * The gateway sandbox's routes for its OpenAPI document (`GET
 * /openapi.json`): the request schemas `charge-request.ts` parses with, and
 * schemas of what the ledger answers, checked against its types at compile
 * time. docs/api.md says the same in prose.
 */
import * as v from 'valibot'
import { TimestampSchema } from '../../schemas/primitives.ts'
import {
  createOpenApiDocument,
  type OpenApiDocument,
  type OperationDoc,
  type ParameterDoc,
  type Same,
} from '../../shared/http/openapi.ts'
import {
  errorResponse,
  internalError,
  payloadTooLarge,
  rateLimited,
  RESPONSE_HEADERS,
  unauthorized,
  unsupportedMediaType,
} from '../../shared/http/openapi-responses.ts'
import { onEveryRoute, sharedOperations } from '../../shared/http/openapi-routes.ts'
import { VERSION } from '../../shared/http/service-index.ts'
import { chargeRequestSchema, refundRequestSchema } from './charge-request.ts'
import type { ChargeView, DeclineCode, Refund } from './domain.ts'
import type { AttemptStatus } from './ledger.ts'

const cents = v.pipe(v.number(), v.integer(), v.minValue(0))
const DeclineCodeSchema = v.picklist(['card_declined', 'invalid_token'])

export const RefundSchema = v.object({
  id: v.string(),
  object: v.literal('refund'),
  chargeId: v.string(),
  amountCents: cents,
  currency: v.string(),
  orderId: v.string(),
  status: v.literal('succeeded'),
  created: TimestampSchema,
})

export const ChargeSchema = v.object({
  id: v.string(),
  status: v.literal('succeeded'),
  amountCents: cents,
  currency: v.string(),
  orderId: v.string(),
  created: TimestampSchema,
  amountRefundedCents: cents,
  /** Oldest first. */
  refunds: v.array(RefundSchema),
})

/** `GET /charge-attempts/{key}`: the ledger's AttemptStatus with its key. */
export const ChargeAttemptSchema = v.union([
  v.object({ idempotencyKey: v.string(), status: v.literal('succeeded'), charge: ChargeSchema }),
  v.object({ idempotencyKey: v.string(), status: v.literal('declined'), code: DeclineCodeSchema }),
  v.object({ idempotencyKey: v.string(), status: v.literal('processing') }),
])

const _described: [
  Same<v.InferOutput<typeof RefundSchema>, Refund>,
  Same<v.InferOutput<typeof ChargeSchema>, ChargeView>,
  Same<v.InferOutput<typeof DeclineCodeSchema>, DeclineCode>,
  Same<v.InferOutput<typeof ChargeAttemptSchema>, AttemptStatus & { idempotencyKey: string }>,
] = [true, true, true, true]

const Charge = { name: 'Charge', schema: ChargeSchema }
const RefundRecord = { name: 'Refund', schema: RefundSchema }
const secretKey = { scheme: 'secretKey', roles: [] } as const
const idempotencyKey: ParameterDoc = {
  name: 'Idempotency-Key',
  in: 'header',
  required: true,
  description:
    '1-255 visible ASCII characters, not `.` or `..` (a path segment URL parsers resolve away); the same key and body answer what the first request got.',
  schema: v.pipe(v.string(), v.regex(/^(?!\.\.?$)[\x21-\x7e]{1,255}$/)),
}
const correlationId: ParameterDoc = {
  name: 'X-Correlation-ID',
  in: 'header',
  description:
    "The caller's correlation id (the payment worker sends the order's), logged with the attempt; a new one when absent or not 1-128 visible ASCII characters.",
  schema: v.string(),
}
const keyed = {
  401: unauthorized(),
  429: rateLimited(
    "The client address's failed attempts are used up (the key's own requests are not limited).",
  ),
}
const badBody = errorResponse(
  'No (or an invalid) Idempotency-Key, a body that is not JSON, or a schema violation (every issue listed).',
  ['missing_idempotency_key', 'malformed_json', 'invalid_request'],
  { issues: true },
)
const badFilter = errorResponse(
  'Another query parameter than the filter, the filter twice, or an empty one.',
  ['invalid_query'],
)
const unavailable = errorResponse(
  'A random outage (GATEWAY_FAILURE_RATE), tok_flaky, or a shutdown: nothing was written under the key.',
  ['unavailable'],
)
const replayed = ['Idempotent-Replayed']

const gatewayOperations: OperationDoc[] = [
  {
    method: 'post',
    path: '/charges',
    operationId: 'createCharge',
    summary: 'Charge a card (test tokens choose the outcome)',
    description:
      'Once past the random outage the attempt is decided and written whether or not the client stays. tok_drop: charged, then the connection is reset with no answer (a retry replays 201). A client that leaves gets nothing (logged as 499).',
    tags: ['charges'],
    security: secretKey,
    parameters: [idempotencyKey, correlationId],
    requestBody: {
      description: 'At most GATEWAY_MAX_BODY_BYTES; no unknown fields.',
      body: { schema: { name: 'ChargeRequest', schema: chargeRequestSchema } },
    },
    responses: {
      201: { description: 'Charged (or replayed).', body: { schema: Charge }, headers: replayed },
      400: badBody,
      415: unsupportedMediaType(),
      402: errorResponse('Declined (or replayed).', ['card_declined', 'invalid_token'], {
        headers: replayed,
      }),
      409: errorResponse(
        'The key was used with another body, or its first request is still being processed (ask GET /charge-attempts/{idempotencyKey}).',
        ['idempotency_key_reused', 'idempotency_key_in_use'],
      ),
      500: errorResponse('tok_error_after_charge (charged: a retry replays 201), or an unexpected fault.', [
        'internal_error',
        'internal',
      ]),
      503: unavailable,
      ...keyed,
    },
  },
  {
    method: 'get',
    path: '/charges',
    operationId: 'listCharges',
    summary: 'The succeeded charges, oldest first',
    tags: ['charges'],
    security: secretKey,
    parameters: [{ name: 'orderId', in: 'query', description: "Only this order's.", schema: v.string() }],
    responses: {
      200: { description: 'The charges.', body: { schema: v.object({ charges: v.array(ChargeSchema) }) } },
      400: badFilter,
      ...keyed,
    },
  },
  {
    method: 'get',
    path: '/charges/{id}',
    operationId: 'getCharge',
    summary: 'One charge, with its refunds',
    tags: ['charges'],
    security: secretKey,
    parameters: [{ name: 'id', in: 'path', description: 'The charge id (`ch_...`).', schema: v.string() }],
    responses: {
      200: { description: 'The charge.', body: { schema: Charge } },
      404: errorResponse('No such charge.', ['not_found']),
      ...keyed,
    },
  },
  {
    method: 'get',
    path: '/charge-attempts/{idempotencyKey}',
    operationId: 'getChargeAttempt',
    summary: 'What became of the charge attempt under an Idempotency-Key',
    description: '`processing` until the attempt is written. Percent-encode the key.',
    tags: ['charges'],
    security: secretKey,
    parameters: [
      { name: 'idempotencyKey', in: 'path', description: 'The Idempotency-Key.', schema: v.string() },
    ],
    responses: {
      200: { description: 'The attempt.', body: { schema: ChargeAttemptSchema } },
      404: errorResponse('Nothing under the key (never sent, or it met a 503).', ['not_found']),
      ...keyed,
    },
  },
  {
    method: 'post',
    path: '/refunds',
    operationId: 'createRefund',
    summary: 'Refund a charge, in whole or in part',
    description:
      'Partial refunds add up. Written to the ledger file (GATEWAY_LEDGER_FILE) before it is answered.',
    tags: ['refunds'],
    security: secretKey,
    parameters: [idempotencyKey, correlationId],
    requestBody: {
      description: 'At most GATEWAY_MAX_BODY_BYTES; amountCents omitted: all that remains.',
      body: { schema: { name: 'RefundRequest', schema: refundRequestSchema } },
    },
    responses: {
      201: { description: 'Refunded (or replayed).', body: { schema: RefundRecord }, headers: replayed },
      400: badBody,
      415: unsupportedMediaType(),
      404: errorResponse('No such charge; nothing is kept under the key.', ['charge_not_found']),
      409: errorResponse('The key was used with another body.', ['idempotency_key_reused']),
      422: errorResponse('More than remains refundable, or nothing remains; nothing is kept under the key.', [
        'refund_exceeds_charge',
      ]),
      500: internalError(),
      503: unavailable,
      ...keyed,
    },
  },
  {
    method: 'get',
    path: '/refunds',
    operationId: 'listRefunds',
    summary: 'Every refund, oldest first',
    tags: ['refunds'],
    security: secretKey,
    parameters: [{ name: 'chargeId', in: 'query', description: "Only this charge's.", schema: v.string() }],
    responses: {
      200: {
        description: 'The refunds.',
        body: { schema: v.object({ refunds: v.array(RefundRecord.schema) }) },
      },
      400: badFilter,
      ...keyed,
    },
  },
]

let built: OpenApiDocument | undefined

export function gatewayOpenApi(): OpenApiDocument {
  built ??= createOpenApiDocument({
    title: 'Payment gateway sandbox',
    version: VERSION,
    description:
      'A card processor for the payment worker to call, with test tokens and configurable faults (docs/api.md). Amounts are integer cents. Errors are JSON `{error, message?, issues?}`.',
    tags: [
      { name: 'charges', description: 'Charges: the secret key.' },
      { name: 'refunds', description: 'Refunds: the secret key.' },
      { name: 'service', description: 'Service index, health, readiness, metrics and docs: no key.' },
    ],
    securitySchemes: {
      secretKey: {
        description: 'The gateway secret key: `Authorization: Bearer <GATEWAY_SECRET_KEY>`.',
        responseHeaders: ['Cache-Control'],
      },
    },
    headers: RESPONSE_HEADERS,
    operations: onEveryRoute(
      [
        ...gatewayOperations,
        ...sharedOperations({
          notReadyWhen: 'Not ready from the first moment of a shutdown; the sandbox has no dependency.',
        }),
      ],
      {
        413: payloadTooLarge('GATEWAY_MAX_BODY_BYTES'),
      },
    ),
  })
  return built
}
