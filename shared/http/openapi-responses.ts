/**
 * What every service's OpenAPI table shares: the error body of `errors.ts`
 * and `auth.ts` narrowed to the codes a response sends, the answers of the
 * shared middleware (401, 403, 429, 413, 415) and the headers they set.
 */
import * as v from 'valibot'
import type { HeaderDoc, ResponseDoc } from './openapi.ts'

/** One schema issue of a 400, as `validation-issues.ts` and the gateway write it. */
export const IssueSchema = v.object({
  /** Dot path into the body; '' for the body itself. */
  path: v.string(),
  message: v.string(),
})

export interface ErrorBodyOptions {
  /** The body lists `issues` (a schema violation). */
  issues?: boolean
  /** More fields beside `error` and `message`. */
  extra?: v.ObjectEntries
}

/** `{ error, message?, issues? }` with `error` one of `codes`. */
export function errorBody(
  codes: readonly [string, ...string[]],
  { issues = false, extra = {} }: ErrorBodyOptions = {},
): v.GenericSchema {
  const entries: v.ObjectEntries = {
    error: v.picklist(codes),
    message: v.optional(v.string()),
    ...(issues ? { issues: v.optional(v.array(IssueSchema)) } : {}),
    ...extra,
  }
  return v.object(entries)
}

/** An error answer: its description, the `error` codes it may carry, its headers. */
export function errorResponse(
  description: string,
  codes: readonly [string, ...string[]],
  options: ErrorBodyOptions & { headers?: readonly string[] } = {},
): ResponseDoc {
  const { headers, ...body } = options
  return {
    description,
    body: { schema: errorBody(codes, body) },
    ...(headers !== undefined ? { headers } : {}),
  }
}

const seconds = v.pipe(v.string(), v.regex(/^\d+$/))

/** Response headers the shared middleware and the services set. */
export const RESPONSE_HEADERS = {
  'X-Correlation-ID': {
    description:
      "The request's X-Correlation-ID when it is 1-128 visible ASCII characters, else a new UUID; on a cancellation or an Idempotency-Key replay, the order's own.",
    schema: v.pipe(v.string(), v.regex(/^[\x21-\x7E]{1,128}$/)),
    required: true,
  },
  Location: {
    description: 'Where to read the order: `/orders/{orderId}`.',
    schema: v.pipe(v.string(), v.startsWith('/orders/')),
    required: true,
  },
  'Retry-After': { description: 'Seconds to wait before trying again.', schema: seconds, required: true },
  'WWW-Authenticate': {
    description:
      'The Bearer challenge: `Bearer realm="order-saga"`, with `error="invalid_token"` when a key was sent.',
    schema: v.pipe(v.string(), v.startsWith('Bearer realm=')),
    required: true,
  },
  'Cache-Control': {
    description:
      "`no-store` on every answer of a route behind a key, its refusals (401, 403, 429) included: no cache, a browser's included, keeps one.",
    schema: v.literal('no-store'),
    required: true,
  },
  'Idempotent-Replayed': {
    description: 'On an answer replayed for an Idempotency-Key seen before.',
    schema: v.literal('true'),
  },
} as const satisfies Record<string, HeaderDoc>

export function unauthorized(): ResponseDoc {
  return errorResponse('No API key, or one the service does not know.', ['unauthorized'], {
    headers: ['WWW-Authenticate'],
  })
}

export function forbidden(roles: string): ResponseDoc {
  return errorResponse(`A valid key without the role ${roles}.`, ['forbidden'])
}

export function rateLimited(what: string): ResponseDoc {
  return errorResponse(what, ['rate_limited'], { headers: ['Retry-After'] })
}

export function payloadTooLarge(setting: string): ResponseDoc {
  return errorResponse(
    `The body, or its Content-Length, is over the limit (${setting}); on a route that wants a key, only once the key is accepted unless Content-Length already says so.`,
    ['payload_too_large'],
  )
}

/** 408 of a route whose request may carry a body (listed on every operation but GET and HEAD). */
export function requestTimeout(seconds: number): ResponseDoc {
  return errorResponse(
    `The body had not arrived in full ${seconds} s after the service began reading it (a client that stalls or trickles it); the connection is closed.`,
    ['request_timeout'],
  )
}

export function unsupportedMediaType(): ResponseDoc {
  return errorResponse(
    'The Content-Type is not application/json (UTF-8 if a charset is named; +json types are refused), or the body has a Content-Encoding other than identity.',
    ['unsupported_media_type'],
  )
}

/** 503 of a route whose store (a NATS KV bucket) is not answering. */
export function storeUnavailable(store: string): ResponseDoc {
  return errorResponse(`${store} (NATS KV) is not answering.`, ['unavailable'], { headers: ['Retry-After'] })
}

/** The `apiKey` security scheme of the services that take API keys (API_KEYS). */
export const API_KEY_SCHEME = {
  apiKey: {
    description: 'An API key: `Authorization: Bearer <key>` (API_KEYS), with the role listed.',
    responseHeaders: ['Cache-Control'],
  },
} as const

export function internalError(): ResponseDoc {
  return errorResponse('An unexpected fault; the detail is in the log only.', ['internal'])
}
