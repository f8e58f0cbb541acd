/**
 * OpenAPI 3.1 documents built from a service's route table, with every body
 * and header converted from its Valibot schema (@valibot/to-json-schema), so
 * the document cannot drift from what the code parses. Each service keeps its
 * table beside its app (`workers/<name>/openapi.ts`); the shared routes' entries
 * are in `openapi-routes.ts`.
 */
import { toJsonSchema, toJsonSchemaDefs, type ConversionConfig } from '@valibot/to-json-schema'
import type * as v from 'valibot'
import { BODY_READ_MS } from './body-limit.ts'
import { requestTimeout } from './openapi-responses.ts'

export type JsonObject = { [key: string]: unknown }

/**
 * `true` when A and B are the same type: `const _x: Same<v.InferOutput<typeof
 * Schema>, Type> = true` fails to compile when a documented schema and the
 * type a route returns drift apart.
 */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false

/** The parts of a built document that code reads back (the docs page, the tests). */
export interface OpenApiDocument {
  openapi: string
  info: { title: string; version: string; description: string }
  paths: Record<
    string,
    Record<string, JsonObject & { summary: string; responses: Record<string, JsonObject> }>
  >
  components: JsonObject
  [key: string]: unknown
}

/** A Valibot schema shown once under `components.schemas` and referenced by name. */
export interface NamedSchema {
  readonly name: string
  readonly schema: v.GenericSchema
}

export type SchemaRef = v.GenericSchema | NamedSchema

export interface BodyDoc {
  /** Default `application/json`. */
  readonly contentType?: string
  readonly schema: SchemaRef
}

export interface HeaderDoc {
  readonly description: string
  readonly schema: v.GenericSchema
  /** Sent on every response that lists it. */
  readonly required?: boolean
}

export interface ResponseDoc {
  readonly description: string
  /** One body, or one per content type. */
  readonly body?: BodyDoc | readonly BodyDoc[]
  /**
   * Names of `ServiceDoc.headers`; or one with `optional` and its own
   * description, for a response that sends a header the others always send
   * only when it has a value.
   */
  readonly headers?: readonly ResponseHeader[]
}

/** A header of `ServiceDoc.headers` by name, or as optional in one response, with why. */
export type ResponseHeader = string | { readonly name: string; readonly optional: string }

export interface ParameterDoc {
  readonly name: string
  readonly in: 'path' | 'query' | 'header'
  readonly description: string
  readonly schema: v.GenericSchema
  /** Path parameters are always required. */
  readonly required?: boolean
}

export type HttpMethod = 'get' | 'put' | 'post' | 'delete' | 'patch'

export interface OperationDoc {
  readonly method: HttpMethod
  /** OpenAPI style: `/orders/{orderId}`. */
  readonly path: string
  readonly operationId: string
  readonly summary: string
  readonly description?: string
  readonly tags: readonly string[]
  /** A `ServiceDoc.securitySchemes` name and the key roles the route accepts; absent: no key. */
  readonly security?: { readonly scheme: string; readonly roles: readonly string[] }
  readonly parameters?: readonly ParameterDoc[]
  readonly requestBody?: { readonly description: string; readonly body: BodyDoc }
  readonly responses: Readonly<Record<number, ResponseDoc>>
}

export interface ServiceDoc {
  readonly title: string
  readonly version: string
  readonly description: string
  readonly tags?: readonly { readonly name: string; readonly description: string }[]
  /**
   * Bearer schemes by name, each with the headers every answer of a route
   * behind it carries (`Cache-Control: no-store` behind an API key).
   */
  readonly securitySchemes?: Readonly<
    Record<string, { readonly description: string; readonly responseHeaders?: readonly string[] }>
  >
  /** Response headers by name, referenced from `ResponseDoc.headers`. */
  readonly headers?: Readonly<Record<string, HeaderDoc>>
  /** More schemas shown under `components.schemas`, referenced wherever they appear (inside a union). */
  readonly schemas?: readonly NamedSchema[]
  /** Headers every response of the service carries (the intake's X-Correlation-ID). */
  readonly everyResponseHeaders?: readonly string[]
  readonly operations: readonly OperationDoc[]
}

const SCHEMA_PREFIX = '#/components/schemas/'

function asList(body: BodyDoc | readonly BodyDoc[] | undefined): readonly BodyDoc[] {
  if (body === undefined) return []
  return 'schema' in body ? [body] : body
}

function isNamed(schema: SchemaRef): schema is NamedSchema {
  return 'name' in schema && 'schema' in schema && typeof schema.name === 'string'
}

/** Collects the named schemas a document uses, by name; one name is one schema. */
function namedSchemas(service: ServiceDoc): Map<string, v.GenericSchema> {
  const named = new Map<string, v.GenericSchema>()
  const add = (ref: SchemaRef | undefined) => {
    if (ref === undefined || !isNamed(ref)) return
    const known = named.get(ref.name)
    if (known !== undefined && known !== ref.schema)
      throw new Error(`two different schemas are named ${ref.name}`)
    named.set(ref.name, ref.schema)
  }
  for (const schema of service.schemas ?? []) add(schema)
  for (const op of service.operations) {
    add(op.requestBody?.body.schema)
    for (const response of Object.values(op.responses))
      for (const body of asList(response.body)) add(body.schema)
  }
  return named
}

/** The OpenAPI 3.1 document of `service`. Throws on a table that refers to an unknown header or scheme. */
/** Said once per document: a stalled body can meet any route, and exercising it takes 10 s a route. */
/** HEAD is not listed as operations of its own: every GET has one. */
const HEAD_NOTE =
  'Every GET operation also answers HEAD as GET does, without the body: the same status and headers, with the Content-Length of the body GET would send (a Server-Sent Events stream has none).'

const BODY_TIMEOUT_NOTE = `On any route, a request body that has not arrived in full ${BODY_READ_MS / 1000} s after the service began reading it is answered 408 \`{"error":"request_timeout"}\` and the connection closed (listed on every operation but GET and HEAD, whose requests carry no body).`

/** The 408 every operation that may carry a body lists (BODY_TIMEOUT_NOTE). */
const REQUEST_TIMEOUT = requestTimeout(BODY_READ_MS / 1000)

export function createOpenApiDocument(service: ServiceDoc): OpenApiDocument {
  const named = namedSchemas(service)
  const definitions = Object.fromEntries(named)
  const base = {
    target: 'draft-2020-12',
    // `check` actions (such as "no sku twice") have no JSON Schema form: left out.
    errorMode: 'ignore',
    overrideRef: ({ referenceId }) => `${SCHEMA_PREFIX}${referenceId}`,
    // Said out loud, so a reader (or a strict validator) knows more fields may come.
    overrideSchema: ({ valibotSchema, jsonSchema }) =>
      valibotSchema.type === 'loose_object' ? { ...jsonSchema, additionalProperties: true } : undefined,
  } as const satisfies ConversionConfig
  const config: ConversionConfig = { ...base, definitions }
  const convert = (schema: v.GenericSchema): JsonObject => {
    const { $schema: _dialect, $defs: _defs, ...json } = toJsonSchema(schema, config) as JsonObject
    return json
  }
  const schemaOf = (ref: SchemaRef): JsonObject =>
    isNamed(ref) ? { $ref: `${SCHEMA_PREFIX}${ref.name}` } : convert(ref)
  const content = (bodies: BodyDoc | readonly BodyDoc[]) =>
    Object.fromEntries(
      asList(bodies).map(({ contentType = 'application/json', schema }) => [
        contentType,
        { schema: schemaOf(schema) },
      ]),
    )
  const usedHeaders = new Map<string, HeaderDoc>()
  const headerRef = (use: ResponseHeader): readonly [string, JsonObject] => {
    const name = typeof use === 'string' ? use : use.name
    const header = service.headers?.[name]
    if (header === undefined) throw new Error(`unknown response header ${name}`)
    if (typeof use !== 'string')
      return [name, { description: use.optional, required: false, schema: convert(header.schema) }]
    usedHeaders.set(name, header)
    return [name, { $ref: `#/components/headers/${name}` }]
  }

  const paths: OpenApiDocument['paths'] = {}
  for (const op of service.operations) {
    if (op.security !== undefined && service.securitySchemes?.[op.security.scheme] === undefined)
      throw new Error(`${op.operationId}: unknown security scheme ${op.security.scheme}`)
    const answers =
      op.method === 'get' || op.responses['408'] !== undefined
        ? op.responses
        : { ...op.responses, 408: REQUEST_TIMEOUT }
    const responses = Object.fromEntries(
      Object.entries(answers).map(([status, response]) => {
        const keyed: ResponseHeader[] = (
          op.security === undefined
            ? []
            : (service.securitySchemes?.[op.security.scheme]?.responseHeaders ?? [])
        ).map((name) =>
          // A body over the limit by its Content-Length is refused before the key is read.
          status === '413'
            ? {
                name,
                optional:
                  'Not when the Content-Length alone was over the limit: refused before the key is read.',
              }
            : name,
        )
        const headers = [...(service.everyResponseHeaders ?? []), ...keyed, ...(response.headers ?? [])]
        return [
          status,
          {
            description: response.description,
            ...(headers.length > 0 ? { headers: Object.fromEntries(headers.map(headerRef)) } : {}),
            ...(response.body !== undefined ? { content: content(response.body) } : {}),
          },
        ]
      }),
    )
    const operation = {
      operationId: op.operationId,
      summary: op.summary,
      ...(op.description !== undefined ? { description: op.description } : {}),
      tags: [...op.tags],
      ...(op.security !== undefined
        ? { security: [{ [op.security.scheme]: [...op.security.roles] }] }
        : { security: [] }),
      ...(op.parameters !== undefined && op.parameters.length > 0
        ? {
            parameters: op.parameters.map((p) => ({
              name: p.name,
              in: p.in,
              description: p.description,
              required: p.in === 'path' ? true : (p.required ?? false),
              schema: convert(p.schema),
            })),
          }
        : {}),
      ...(op.requestBody !== undefined
        ? {
            requestBody: {
              description: op.requestBody.description,
              required: true,
              content: content(op.requestBody.body),
            },
          }
        : {}),
      responses,
    }
    const item = (paths[op.path] ??= {})
    if (item[op.method] !== undefined)
      throw new Error(`${op.method.toUpperCase()} ${op.path} is listed twice`)
    item[op.method] = operation
  }

  const schemas = toJsonSchemaDefs(definitions, base)
  return {
    openapi: '3.1.1',
    info: {
      title: service.title,
      version: service.version,
      description: `${service.description} ${BODY_TIMEOUT_NOTE} ${HEAD_NOTE}`,
    },
    ...(service.tags !== undefined ? { tags: service.tags.map((t) => ({ ...t })) } : {}),
    paths,
    components: {
      schemas,
      headers: Object.fromEntries(
        [...usedHeaders].map(([name, header]) => [
          name,
          {
            description: header.description,
            required: header.required ?? false,
            schema: convert(header.schema),
          },
        ]),
      ),
      securitySchemes: Object.fromEntries(
        Object.entries(service.securitySchemes ?? {}).map(([name, { description }]) => [
          name,
          { type: 'http', scheme: 'bearer', description },
        ]),
      ),
    },
  }
}

/** `/orders/{orderId}` as Hono writes it: `/orders/:orderId`. */
export function toHonoPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1')
}
