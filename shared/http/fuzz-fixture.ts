/**
 * Test fixture: generated HTTP requests (fast-check) for fuzzing a service's
 * app with `app.fetch`, and the property every service keeps: no 5xx but the
 * ones it documents, no `error` log line. Used only by tests.
 */
import fc from 'fast-check'

export interface FuzzRequest {
  method: string
  path: string
  headers: Record<string, string>
  body: FuzzBody
}

export type FuzzBody =
  | { kind: 'none' }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array }
  /** A body of `size` bytes made as it is read, in 64 KiB chunks, without Content-Length. */
  | { kind: 'huge'; size: number }
  /** A few bytes, then the client goes away (stream error and aborted signal). */
  | { kind: 'aborted'; text: string }

export interface FuzzTarget {
  /** Known routes as `METHOD /path/:param`, the params filled with valid and invalid values. */
  routes: readonly string[]
  /** Valid `Authorization` values (keys the app accepts). */
  keys: readonly string[]
  /** Bodies that parse: the app's own request shapes. */
  validBodies: fc.Arbitrary<unknown>
  /** Route params that are valid (a sku, an order id), mixed with invented ones. */
  validParams?: fc.Arbitrary<string>
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']
const TOKEN = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/)
/** Header values a client can send: visible ASCII and spaces, no CR/LF/NUL. */
const HEADER_VALUE = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 300,
})

const segment = fc.oneof(
  fc.webSegment(),
  fc.uuid(),
  fc.constantFrom('', '.', '..', '%', '%zz', '%2F', '%00', '%E2%82', 'SKU-1', 'ch_1', 'x'.repeat(2_000)),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
)

/** A route (`METHOD /path/:param`) as sent: mostly its own method, its params filled with good and bad values. */
function targetArbitrary(
  routes: readonly string[],
  validParams: fc.Arbitrary<string> = segment,
): fc.Arbitrary<{ method: string; path: string }> {
  const param = fc.oneof({ weight: 2, arbitrary: validParams }, { weight: 3, arbitrary: segment })
  const fromRoute = fc
    .tuple(fc.constantFrom(...routes), fc.array(param, { minLength: 3, maxLength: 3 }))
    .map(([route, values]) => {
      const [method = 'GET', pattern = '/'] = route.split(' ')
      let i = 0
      return { method, path: pattern.replace(/:[A-Za-z]+/g, () => values[i++] ?? 'x') }
    })
  const anyPath = fc.webPath().map((path) => (path.startsWith('/') ? path : `/${path}`))
  const method = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...METHODS) },
    { weight: 1, arbitrary: TOKEN },
  )
  return fc
    .tuple(
      fc.oneof(
        { weight: 6, arbitrary: fromRoute },
        { weight: 2, arbitrary: fc.tuple(fromRoute, method).map(([r, m]) => ({ ...r, method: m })) },
        { weight: 1, arbitrary: fc.tuple(anyPath, method).map(([path, m]) => ({ path, method: m })) },
      ),
      fc.option(fc.webQueryParameters(), { nil: undefined, freq: 4 }),
    )
    .map(([target, query]) => ({ ...target, path: query ? `${target.path}?${query}` : target.path }))
}

/** `value` most of the time, else absent (`undefined`, left out of the headers). */
function often<T>(value: fc.Arbitrary<T>, absentWeight = 1, presentWeight = 4): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { weight: absentWeight, arbitrary: fc.constant(undefined) },
    { weight: presentWeight, arbitrary: value },
  )
}

function headersArbitrary(keys: readonly string[]): fc.Arbitrary<Record<string, string>> {
  const authorization = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...keys) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'Bearer',
        'Bearer ',
        'Basic dXNlcjpwYXNz',
        'bearer sk_wrong',
        `Bearer ${'k'.repeat(5_000)}`,
      ),
    },
    { weight: 1, arbitrary: HEADER_VALUE.map((v) => `Bearer ${v}`) },
    { weight: 1, arbitrary: HEADER_VALUE },
  )
  const contentType = fc.oneof(
    { weight: 6, arbitrary: fc.constant('application/json') },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'application/json; charset=utf-8',
        'application/problem+json',
        'application/json; charset=utf-16',
        'text/plain',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
        'application/jsonx',
        '',
      ),
    },
    { weight: 1, arbitrary: HEADER_VALUE },
  )
  // Short keys collide (replays, conflicts); UUIDs are fresh (first answers).
  const idempotencyKey = fc.oneof(
    { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9-]{1,12}$/) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: HEADER_VALUE },
  )
  return fc
    .record({
      Authorization: often(authorization),
      'Content-Type': often(contentType),
      'Idempotency-Key': often(idempotencyKey),
      'X-Correlation-ID': often(HEADER_VALUE, 3, 1),
      // Rarely, and then often a lie: the body's real length differs.
      'Content-Length': often(fc.oneof(fc.nat({ max: 100_000 }).map(String), HEADER_VALUE), 8, 1),
      Accept: often(fc.constantFrom('application/json', '*/*', 'text/html'), 3, 1),
    })
    .map((headers) =>
      Object.fromEntries(
        Object.entries(headers).filter((entry): entry is [string, string] => entry[1] !== undefined),
      ),
    )
}

function bodyArbitrary(valid: fc.Arbitrary<unknown>): fc.Arbitrary<FuzzBody> {
  const validText = valid.map((value) => JSON.stringify(value))
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant<FuzzBody>({ kind: 'none' }) },
    { weight: 4, arbitrary: validText.map((text): FuzzBody => ({ kind: 'text', text })) },
    { weight: 2, arbitrary: fc.json().map((text): FuzzBody => ({ kind: 'text', text })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(validText, fc.nat())
        .map(([text, cut]): FuzzBody => ({ kind: 'text', text: text.slice(0, cut % (text.length + 1)) })),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((text): FuzzBody => ({ kind: 'text', text })) },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes): FuzzBody => ({ kind: 'bytes', bytes })),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 64 * 1024, max: 4 * 1024 * 1024 })
        .map((size): FuzzBody => ({ kind: 'huge', size })),
    },
    {
      weight: 1,
      arbitrary: validText.map((text): FuzzBody => ({ kind: 'aborted', text: text.slice(0, 8) })),
    },
  )
}

export function fuzzRequests({
  routes,
  keys,
  validBodies,
  validParams,
}: FuzzTarget): fc.Arbitrary<FuzzRequest> {
  return fc
    .record({
      target: targetArbitrary(routes, validParams),
      headers: headersArbitrary(keys),
      body: bodyArbitrary(validBodies),
    })
    .map(({ target, headers, body }) => ({ ...target, headers, body }))
}

/** Methods a `Request` refuses to be built with (the client's error, not the server's). */
const UNSENDABLE = /^(CONNECT|TRACE|TRACK)$/i

const encoder = new TextEncoder()

/** The request as a client would send it; `undefined` when no client could. */
export function toRequest({ method, path, headers, body }: FuzzRequest): Request | undefined {
  if (UNSENDABLE.test(method)) return undefined
  const bodyless = /^(GET|HEAD)$/i.test(method)
  const init: RequestInit & { duplex?: 'half' } = { method, headers }
  if (!bodyless && body.kind !== 'none') {
    if (body.kind === 'text') init.body = body.text
    else if (body.kind === 'bytes') init.body = new Uint8Array(body.bytes)
    else {
      init.body = body.kind === 'huge' ? hugeStream(body.size) : abortedStream(body.text, init)
      init.duplex = 'half'
    }
  }
  try {
    return new Request(`http://service.test${path}`, init)
  } catch {
    return undefined // e.g. a header value no client can send
  }
}

function hugeStream(size: number): ReadableStream<Uint8Array> {
  const chunk = new Uint8Array(64 * 1024).fill(0x7b) // '{'
  let sent = 0
  return new ReadableStream({
    pull(controller) {
      if (sent >= size) return controller.close()
      controller.enqueue(chunk)
      sent += chunk.byteLength
    },
  })
}

function abortedStream(text: string, init: RequestInit): ReadableStream<Uint8Array> {
  const client = new AbortController()
  init.signal = client.signal
  return new ReadableStream({
    start(controller) {
      controller.enqueue(encoder.encode(text))
    },
    pull(controller) {
      client.abort()
      controller.error(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))
    },
  })
}

/** A log destination that counts `error` lines (and keeps the last few to explain a failure). */
export function createLogCapture() {
  let errors = 0
  const recent: string[] = []
  return {
    destination: {
      write(line: string) {
        if (/"level":"(error|fatal)"/.test(line)) {
          errors++
          recent.push(line)
          if (recent.length > 5) recent.shift()
        }
      },
    },
    errors: () => errors,
    recent: () => [...recent],
  }
}

export interface FuzzResult {
  sent: number
  /** How many answers had each status. */
  statuses: Map<number, number>
  /** Of `expected`, the statuses no answer had (the generator missed a path). */
  missing: (expected: readonly number[]) => number[]
}

export interface FuzzOptions {
  numRuns?: number
  /** A 5xx the service documents (the intake's 503): allowed when this says so. */
  allow?: (status: number, body: string) => boolean
  seed?: number
}

/**
 * Sends `numRuns` generated requests to `fetch`: none may answer a 5xx the
 * service does not document or log at `error`.
 */
export async function fuzzApp(
  fetch: (request: Request) => Response | Promise<Response>,
  target: FuzzTarget,
  logs: ReturnType<typeof createLogCapture>,
  { numRuns = 10_000, allow = () => false, seed }: FuzzOptions = {},
): Promise<FuzzResult> {
  const statuses = new Map<number, number>()
  let sent = 0
  await fc.assert(
    fc.asyncProperty(fuzzRequests(target), async (fuzz) => {
      const request = toRequest(fuzz)
      if (request === undefined) return true
      const errorsBefore = logs.errors()
      const response = await fetch(request)
      const text = await response.text()
      sent++
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
      if (response.status >= 500 && !allow(response.status, text)) {
        throw new Error(`answered ${response.status}: ${text.slice(0, 200)}`)
      }
      if (logs.errors() !== errorsBefore) throw new Error(`logged an error: ${logs.recent().at(-1) ?? ''}`)
      return true
    }),
    { numRuns, ...(seed === undefined ? {} : { seed }), endOnFailure: false },
  )
  return { sent, statuses, missing: (expected) => expected.filter((status) => !statuses.has(status)) }
}
