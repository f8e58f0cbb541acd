/**
 * Holds real responses to a service's OpenAPI document: each one's route
 * and status must be documented, its body must validate against the
 * documented schema (with no field the schema does not name), its headers
 * against theirs; and every documented (route, status) must have been seen.
 */
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { vi } from 'vitest'
import { BODY_READ_MS } from '../../shared/http/body-limit.ts'
import type { JsonObject, OpenApiDocument } from '../../shared/http/openapi.ts'

/** The OpenAPI 3.1 schema's verdict on `document`: [] when valid. */
export async function openApiProblems(document: unknown): Promise<string[]> {
  const validator = new Validator()
  const result = await validator.validate(structuredClone(document) as Parameters<Validator['validate']>[0])
  if (validator.version !== '3.1') return [`read as OpenAPI ${validator.version}, not 3.1`]
  return result.valid ? [] : (result.errors as unknown[]).map((e) => JSON.stringify(e))
}

interface Route {
  method: string
  path: string
  pattern: RegExp
  /** Literal characters in the template: `/docs` beats `/{x}`. */
  weight: number
}

interface Seen {
  route: string
  status: number
}

export interface Contract {
  /** `app.request(path, init)` and the checks; throws on a response the document does not allow. */
  request(app: Requester, path: string, init?: RequestInit): Promise<Response>
  /** Checks a response `app` gave to `request`. */
  check(request: Request, response: Response): Promise<void>
  /** Documented `METHOD path status` never seen. */
  uncovered(): string[]
}

export interface Requester {
  request(input: Request | string, init?: RequestInit): Response | Promise<Response>
}

type Operation = JsonObject & { responses: Record<string, JsonObject> }

export function createContract(document: OpenApiDocument): Contract {
  const components = document.components as { schemas?: JsonObject; headers?: Record<string, JsonObject> }
  const ajv = new Ajv2020({ allErrors: true, strict: true })
  addFormats(ajv)
  const validators = new Map<string, ValidateFunction>()
  const validatorFor = (key: string, schema: JsonObject) => {
    let validate = validators.get(key)
    if (validate === undefined) {
      validate = ajv.compile({ ...closed(rewriteRefs(schema)), $defs: closedDefs(components.schemas ?? {}) })
      validators.set(key, validate)
    }
    return validate
  }

  const routes: Route[] = Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item).map((method) => ({
      method: method.toUpperCase(),
      path,
      pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+').replaceAll('.', '\\.')}$`),
      weight: path.replace(/\{[^}]+\}/g, '').length,
    })),
  )
  const seen: Seen[] = []

  async function check(request: Request, response: Response): Promise<void> {
    const { pathname } = new URL(request.url)
    const route = routes
      .filter((r) => r.method === request.method && r.pattern.test(pathname))
      .sort((a, b) => b.weight - a.weight)[0]
    const where = `${request.method} ${pathname} -> ${response.status}`
    if (route === undefined) throw new Error(`${where}: the route is not documented`)
    const operation = document.paths[route.path]?.[route.method.toLowerCase()] as Operation
    const documented = operation.responses[String(response.status)]
    if (documented === undefined)
      throw new Error(`${where}: status not documented for ${route.method} ${route.path}`)
    seen.push({ route: `${route.method} ${route.path}`, status: response.status })

    // What the app took must be what the document asks for.
    const requestBody = operation['requestBody'] as
      { content: Record<string, { schema: JsonObject }> } | undefined
    const asked = requestBody?.content['application/json']
    if (asked !== undefined && response.status < 300) {
      const sent: unknown = JSON.parse(await request.clone().text())
      const validate = validatorFor(`${route.method} ${route.path} request`, asked.schema)
      if (!validate(sent))
        throw new Error(
          `${where}: the accepted request body does not match: ${ajv.errorsText(validate.errors)}`,
        )
    }

    for (const [name, header] of Object.entries(
      (documented['headers'] ?? {}) as Record<string, JsonObject>,
    )) {
      const definition = resolveHeader(header, components.headers ?? {})
      const value = response.headers.get(name)
      if (value === null) {
        if (definition['required'] === true) throw new Error(`${where}: header ${name} missing`)
        continue
      }
      const validate = validatorFor(`header:${name}`, definition['schema'] as JsonObject)
      const shown = `${name}: ${value}`
      if (!validate(value)) throw new Error(`${where}: header ${shown} ${ajv.errorsText(validate.errors)}`)
    }

    const content = documented['content'] as Record<string, { schema: JsonObject }> | undefined
    const text = await response.clone().text()
    if (content === undefined) {
      if (text !== '') throw new Error(`${where}: a body where none is documented`)
      return
    }
    const mediaType = (response.headers.get('Content-Type') ?? '').split(';')[0]?.trim() ?? ''
    const media = content[mediaType]
    if (media === undefined)
      throw new Error(
        `${where}: Content-Type ${mediaType} not documented (${Object.keys(content).join(', ')})`,
      )
    const body: unknown = mediaType === 'application/json' ? JSON.parse(text) : text
    const validate = validatorFor(
      `${route.method} ${route.path} ${response.status} ${mediaType}`,
      media.schema,
    )
    if (!validate(body))
      throw new Error(
        `${where}: body ${text.slice(0, 300)} does not match: ${ajv.errorsText(validate.errors)}`,
      )
  }

  return {
    check,
    async request(app, path, init) {
      const request = new Request(new URL(path, 'http://localhost'), init)
      const response = await app.request(request.clone())
      await check(request, response)
      return response
    },
    uncovered() {
      const all = Object.entries(document.paths).flatMap(([path, item]) =>
        Object.entries(item).flatMap(([method, op]) =>
          Object.keys(op.responses).map((status) => `${method.toUpperCase()} ${path} ${status}`),
        ),
      )
      const done = new Set(seen.map((s) => `${s.route} ${s.status}`))
      return all.filter((pair) => !done.has(pair))
    },
  }
}

/** `{name}` and `:name` alike: the shape of a path, not its parameters' names. */
const shape = (path: string) => path.replace(/\{[^}]+\}|:[^/]+/g, '{}')

/** `METHOD /path` of every route `app` serves (middleware left out), sorted. */
export function servedRoutes(app: { routes: readonly { method: string; path: string }[] }): string[] {
  const routes = app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${shape(r.path)}`)
  return [...new Set(routes)].sort()
}

/** `METHOD /path` of every operation in `document`, sorted. */
export function documentedRoutes(document: OpenApiDocument): string[] {
  return Object.entries(document.paths)
    .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${shape(path)}`))
    .sort()
}

function resolveHeader(header: JsonObject, headers: Record<string, JsonObject>): JsonObject {
  const ref = header['$ref']
  if (typeof ref !== 'string') return header
  const resolved = headers[ref.replace('#/components/headers/', '')]
  if (resolved === undefined) throw new Error(`unresolved ${ref}`)
  return resolved
}

/** `#/components/schemas/X` -> `#/$defs/X`, so a schema compiles on its own. */
function rewriteRefs(schema: unknown): JsonObject {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"#/$defs/')) as JsonObject
}

/** Every object schema that does not say otherwise allows no other properties. */
function closed(schema: unknown): JsonObject {
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit)
    if (node === null || typeof node !== 'object') return node
    const out = Object.fromEntries(Object.entries(node).map(([k, value]) => [k, visit(value)]))
    if (out['type'] === 'object' && out['properties'] !== undefined && !('additionalProperties' in out))
      out['additionalProperties'] = false
    return out
  }
  return visit(schema) as JsonObject
}

function closedDefs(schemas: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(schemas).map(([name, s]) => [name, closed(rewriteRefs(s))]))
}

/**
 * Sends every operation of `document` that lists a 408 a body that never
 * finishes arriving (with `headers`, a key its route accepts) and returns
 * each answer's status, checked against the document. On fake timers: the
 * body deadline (BODY_READ_MS) passes at once.
 */
export async function exerciseBodyTimeout(
  contract: Contract,
  app: Requester,
  document: OpenApiDocument,
  { concrete, headers }: { concrete: (path: string) => string; headers: Record<string, string> },
): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {}
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(item as Record<string, Operation>)) {
      if (op.responses['408'] === undefined) continue
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
      try {
        const stalled = new ReadableStream<Uint8Array>({ start: () => undefined })
        const init = { method: method.toUpperCase(), body: stalled, duplex: 'half', headers }
        const pending = contract.request(app, concrete(path), init)
        await vi.advanceTimersByTimeAsync(BODY_READ_MS + 1)
        statuses[`${method.toUpperCase()} ${path}`] = (await pending).status
      } finally {
        vi.useRealTimers()
      }
    }
  }
  return statuses
}
