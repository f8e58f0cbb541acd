/**
 * The inventory service's routes for its OpenAPI document (`GET
 * /openapi.json`), from the schemas `app.ts` parses with. docs/api.md says
 * the same in prose.
 */
import * as v from 'valibot'
import { CentsSchema, SkuSchema } from '../../schemas/primitives.ts'
import {
  createOpenApiDocument,
  type OpenApiDocument,
  type OperationDoc,
  type Same,
} from '../../shared/http/openapi.ts'
import {
  errorResponse,
  forbidden,
  payloadTooLarge,
  rateLimited,
  RESPONSE_HEADERS,
  unauthorized,
  unsupportedMediaType,
  storeUnavailable,
  API_KEY_SCHEME,
} from '../../shared/http/openapi-responses.ts'
import { onEveryRoute, sharedOperations } from '../../shared/http/openapi-routes.ts'
import { VERSION } from '../../shared/http/service-index.ts'
import type { StockView } from './domain.ts'
import { SetStockRequestSchema } from './records.ts'

const count = v.pipe(v.number(), v.integer())

/** `toStockView` (domain.ts): what both routes answer. */
export const StockViewSchema = v.object({
  sku: SkuSchema,
  onHand: count,
  /** Held for open orders. */
  reserved: count,
  /** onHand - reserved. */
  available: count,
  priceCents: CentsSchema,
})

const _stockViewIsDescribed: Same<v.InferOutput<typeof StockViewSchema>, StockView> = true

const StockView = { name: 'StockView', schema: StockViewSchema }
const sku = {
  name: 'sku',
  in: 'path',
  description: 'Anything else is 400 invalid_sku.',
  schema: SkuSchema,
} as const
const unavailable = storeUnavailable('The stock store')

/** The stock's entity tag (`stockTag`, domain.ts): its on-hand units and price. */
const ETAG_HEADER = {
  ETag: {
    description:
      'The stock\'s on-hand units and price as an entity tag (`"25-1999"`): it changes with them (a sale, a return, a PUT), not with holds. Send it back in `If-Match` to change the price without writing back an on-hand count a sale changed meanwhile.',
    schema: v.pipe(v.string(), v.regex(/^"\d+-\d+"$/)),
    required: true,
  },
}

const ifMatch = {
  name: 'If-Match',
  in: 'header',
  description:
    'Set only if the stock still has these values: an ETag from a GET or a PUT (several, comma-separated), or `*` for any existing record. Otherwise 412 `precondition_failed` with the current ETag; a weak tag (`W/`) never matches. A value that is neither: 400 `invalid_if_match`.',
  schema: v.pipe(v.string(), v.minLength(1)),
} as const

/** A stock record written around the service answers `invalid_record`; anything else unexpected, `internal`. */
const invalidRecordOrInternal = errorResponse(
  "An unexpected fault (the detail is in the log only), or `invalid_record`: the sku's stock record does not parse; a PUT with an admin key replaces it.",
  ['internal', 'invalid_record'],
)

const inventoryOperations: OperationDoc[] = [
  {
    method: 'get',
    path: '/inventory/{sku}',
    operationId: 'getStock',
    summary: "A sku's stock",
    tags: ['inventory'],
    parameters: [sku],
    responses: {
      200: { description: 'The stock.', body: { schema: StockView }, headers: ['ETag'] },
      400: errorResponse('Not a sku.', ['invalid_sku']),
      404: errorResponse('No stock record for the sku.', ['not_found']),
      500: invalidRecordOrInternal,
      503: unavailable,
    },
  },
  {
    method: 'put',
    path: '/inventory/{sku}',
    operationId: 'setStock',
    summary: "Set a sku's stock on hand and price",
    description: 'The key is checked before the sku and the body.',
    tags: ['inventory'],
    security: { scheme: 'apiKey', roles: ['admin'] },
    parameters: [sku, ifMatch],
    requestBody: {
      description: 'At most INVENTORY_MAX_BODY_BYTES; no unknown fields.',
      body: { schema: { name: 'SetStockRequest', schema: SetStockRequestSchema } },
    },
    responses: {
      200: { description: 'Updated.', body: { schema: StockView }, headers: ['ETag'] },
      201: { description: 'Created.', body: { schema: StockView }, headers: ['ETag'] },
      400: errorResponse(
        'Not a sku, a body that is not JSON, a schema violation (every issue listed), or an If-Match that is not `*` or quoted entity tags.',
        ['invalid_sku', 'malformed_json', 'invalid_stock', 'invalid_if_match'],
        { issues: true },
      ),
      401: unauthorized(),
      403: forbidden('admin'),
      409: errorResponse('onHand would fall below what open orders hold.', ['below_reserved'], {
        extra: { reserved: count },
      }),
      412: {
        ...errorResponse(
          'If-Match names other values than the stock has now (a sale, a return or another PUT changed it), or a record the sku does not have; nothing was set. The ETag header is the current one (absent when there is no record).',
          ['precondition_failed'],
        ),
        headers: [
          { name: 'ETag', optional: "The stock's current entity tag; absent when the sku has no record." },
        ],
      },
      415: unsupportedMediaType(),
      429: rateLimited(
        "The admin key's writes (RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST), or the client address's failed attempts, are used up.",
      ),
      500: errorResponse(
        "An unexpected fault (the detail is in the log only), or `invalid_record`: If-Match was sent and the sku's stock record does not parse; the same PUT without If-Match replaces it.",
        ['internal', 'invalid_record'],
      ),
      503: errorResponse(
        'The stock store (NATS KV) is not answering. The write may have been applied all the same: GET the stock before writing again (its ETag then shows whether it was). Or the store is full (KV_STOCK_MAX_BYTES): nothing was written, `Retry-After: 30`.',
        ['unavailable'],
        { headers: ['Retry-After'] },
      ),
    },
  },
]

let built: OpenApiDocument | undefined

export function inventoryOpenApi(): OpenApiDocument {
  built ??= createOpenApiDocument({
    title: 'Inventory',
    version: VERSION,
    description:
      'Stock per sku, read by anybody and set by an admin. Errors are JSON `{error, message?, issues?}`.',
    tags: [
      { name: 'inventory', description: 'Stock: reading needs no key, setting an admin key.' },
      { name: 'service', description: 'Service index, health, readiness, metrics and docs: no key.' },
    ],
    securitySchemes: API_KEY_SCHEME,
    headers: { ...RESPONSE_HEADERS, ...ETAG_HEADER },
    operations: onEveryRoute([...inventoryOperations, ...sharedOperations()], {
      413: payloadTooLarge('INVENTORY_MAX_BODY_BYTES'),
    }),
  })
  return built
}
