/**
 * OpenAPI entries of the routes every HTTP service shares: `GET /`
 * (service-index.ts), `/health`, `/ready`, `/metrics`
 * (observability-routes.ts), `/openapi.json`, `/docs` and `/docs/{asset}`
 * (api-docs.ts).
 */
import * as v from 'valibot'
import {
  createOpenApiDocument,
  type OpenApiDocument,
  type OperationDoc,
  type ResponseDoc,
} from './openapi.ts'
import { errorResponse, payloadTooLarge } from './openapi-responses.ts'
import { VERSION } from './service-index.ts'
import { SWAGGER_UI_FILES, type SwaggerUiFile } from './swagger-ui-files.ts'

export const ServiceIndexSchema = v.object({
  service: v.string(),
  version: v.string(),
  /** `METHOD /path` as the router writes it (`/orders/:orderId`). */
  routes: v.array(v.string()),
})

export const ReadySchema = v.object({ status: v.literal('ready') })
export const NotReadySchema = v.object({ status: v.literal('not_ready'), reason: v.string() })

/** The parts of an OpenAPI document a client needs to find its way. */
const DocumentSchema = v.looseObject({
  openapi: v.literal('3.1.1'),
  info: v.looseObject({ title: v.string(), version: v.string() }),
  paths: v.record(v.string(), v.unknown()),
})

/** The docs page's files (swagger-ui-files.ts). */
export const DOCS_ASSETS = Object.keys(SWAGGER_UI_FILES) as [SwaggerUiFile, ...SwaggerUiFile[]]

export interface SharedRoutesOptions {
  /** Whether `/health` can answer 503 (an `isAlive` check was given). */
  liveness?: boolean
  /** When `/ready` answers 503, for its description (default: a NATS service's). */
  notReadyWhen?: string
  /** The tag the shared routes are listed under. */
  tag?: string
}

/** The shared routes' entries, without the answers every route of a service gives (413, ...). */
export function sharedOperations({
  liveness = false,
  notReadyWhen = 'Not ready from the first moment of a shutdown, and while NATS is not connected or its streams do not answer.',
  tag = 'service',
}: SharedRoutesOptions = {}): OperationDoc[] {
  const tags = [tag]
  const ops: OperationDoc[] = [
    {
      method: 'get',
      path: '/',
      operationId: 'getServiceIndex',
      summary: 'Which service answers, its version and its routes',
      tags,
      responses: { 200: { description: 'The service index.', body: { schema: ServiceIndexSchema } } },
    },
    {
      method: 'get',
      path: '/health',
      operationId: 'getHealth',
      summary: 'Liveness: the process is alive',
      tags,
      responses: {
        200: { description: 'Alive.', body: { schema: v.object({ status: v.literal('ok') }) } },
        ...(liveness
          ? { 503: { description: 'Failing.', body: { schema: v.object({ status: v.literal('failing') }) } } }
          : {}),
      },
    },
    {
      method: 'get',
      path: '/ready',
      operationId: 'getReady',
      summary: 'Readiness: its dependencies answer',
      description: notReadyWhen,
      tags,
      responses: {
        200: { description: 'Ready.', body: { schema: ReadySchema } },
        503: { description: 'Not ready, and why.', body: { schema: NotReadySchema } },
      },
    },
    {
      method: 'get',
      path: '/metrics',
      operationId: 'getMetrics',
      summary: 'Prometheus metrics (docs/operations.md)',
      tags,
      responses: {
        200: {
          description: 'The Prometheus text format.',
          body: { contentType: 'text/plain', schema: v.string() },
        },
      },
    },
    {
      method: 'get',
      path: '/openapi.json',
      operationId: 'getOpenApiDocument',
      summary: 'This document (OpenAPI 3.1)',
      tags,
      responses: { 200: { description: 'The OpenAPI document.', body: { schema: DocumentSchema } } },
    },
  ]
  return [
    ...ops,
    {
      method: 'get',
      path: '/docs',
      operationId: 'getDocsPage',
      summary: 'Interactive API docs (Swagger UI) for this document',
      description: 'Served by the service with its own files: it works with no internet.',
      tags,
      responses: {
        200: { description: 'The page.', body: { contentType: 'text/html', schema: v.string() } },
      },
    },
    {
      method: 'get',
      path: '/docs/{asset}',
      operationId: 'getDocsAsset',
      summary: "A file of the docs page (Swagger UI's script and style sheet)",
      tags,
      parameters: [{ name: 'asset', in: 'path', description: 'The file.', schema: v.picklist(DOCS_ASSETS) }],
      responses: {
        200: {
          description:
            'The file; gzipped (`Content-Encoding: gzip`, `Vary: Accept-Encoding`) to a client that accepts gzip when the compiled binary carries it so.',
          body: [
            { contentType: 'text/css', schema: v.string() },
            { contentType: 'text/javascript', schema: v.string() },
          ],
        },
        404: errorResponse('No such file.', ['not_found']),
      },
    },
  ]
}

/**
 * `ops` with `responses` added to every one (an answer a middleware gives on
 * every route); an operation that describes the same status itself keeps its own.
 */
export function onEveryRoute(
  ops: readonly OperationDoc[],
  responses: Readonly<Record<number, ResponseDoc>>,
): OperationDoc[] {
  return ops.map((op) => ({ ...op, responses: { ...responses, ...op.responses } }))
}

const observabilityDocuments = new Map<string, OpenApiDocument>()

/**
 * The document of a worker that serves only the shared routes
 * (`createObservabilityApp`: payment, order-status), its docs page included.
 */
export function observabilityOpenApi({
  service,
  maxBodyBytes,
  liveness,
}: {
  service: string
  maxBodyBytes: number
  liveness: boolean
}): OpenApiDocument {
  const key = `${service} ${maxBodyBytes} ${liveness}`
  const known = observabilityDocuments.get(key)
  if (known !== undefined) return known
  const document = createOpenApiDocument({
    title: `${service} (operations)`,
    version: VERSION,
    description: `The ${service} worker's HTTP surface: its index, health, readiness, metrics and this document; no key. Errors are JSON \`{error, message?}\`.`,
    operations: onEveryRoute(sharedOperations({ liveness }), {
      413: payloadTooLarge(`${maxBodyBytes} bytes`),
    }),
  })
  observabilityDocuments.set(key, document)
  return document
}
