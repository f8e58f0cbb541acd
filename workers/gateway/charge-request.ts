import * as v from 'valibot'
import { isJsonObject, NOT_A_JSON_OBJECT } from '../../shared/http/json-body.ts'
import type { ChargeRequest, RefundRequest } from './domain.ts'

const text = (max: number) =>
  v.pipe(
    v.string('must be a string'),
    v.minLength(1, 'must not be empty'),
    v.maxLength(max, `must be at most ${max} characters`),
  )

/** Missing and unknown keys get plain messages instead of Valibot's `Expected never`. */
function bodyMessage(issue: v.StrictObjectIssue): string {
  if (issue.expected === 'never') return 'is not a known field'
  if (issue.expected.startsWith('"')) return 'is required'
  return NOT_A_JSON_OBJECT
}

/** `POST /charges` body; unknown keys are rejected. */
export const chargeRequestSchema = v.strictObject(
  {
    amountCents: v.pipe(
      v.number('must be a number'),
      v.safeInteger('must be an integer'),
      v.minValue(1, 'must be >= 1'),
    ),
    currency: v.pipe(
      v.string('must be a string'),
      v.regex(/^[A-Z]{3}$/, 'must be a 3-letter uppercase currency code'),
    ),
    token: text(128),
    orderId: text(128),
  },
  bodyMessage,
)

/** `POST /refunds` body; unknown keys are rejected. */
export const refundRequestSchema = v.strictObject(
  {
    chargeId: text(128),
    amountCents: v.optional(
      v.pipe(
        v.number('must be a number'),
        v.safeInteger('must be an integer'),
        v.minValue(1, 'must be >= 1'),
      ),
    ),
  },
  bodyMessage,
)

export interface RequestIssue {
  /** Dot path into the body; '' for the body itself. */
  path: string
  message: string
}

export type Parsed<T> = { ok: true; request: T } | { ok: false; issues: RequestIssue[] }

function parseWith<T>(schema: v.GenericSchema<unknown, T>, body: unknown): Parsed<T> {
  if (!isJsonObject(body)) return { ok: false, issues: [{ path: '', message: NOT_A_JSON_OBJECT }] }
  const result = v.safeParse(schema, body, { abortEarly: false })
  if (result.success) return { ok: true, request: result.output }
  return {
    ok: false,
    issues: result.issues.map((issue) => ({ path: v.getDotPath(issue) ?? '', message: issue.message })),
  }
}

export const parseChargeRequest = (body: unknown): Parsed<ChargeRequest> =>
  parseWith(chargeRequestSchema, body)

export const parseRefundRequest = (body: unknown): Parsed<RefundRequest> =>
  parseWith(refundRequestSchema, body)

/** The 400 body for a request that failed its schema. */
export function invalidRequest(issues: RequestIssue[]) {
  const message = issues.map(({ path, message }) => `${path || '(body)'}: ${message}`).join('; ')
  return { error: 'invalid_request', message, issues }
}

/** 1..255 visible ASCII characters, or undefined. */
export function parseIdempotencyKey(header: string | undefined): string | undefined {
  // Not `.` or `..`: as a path segment of GET /charge-attempts/{key} every
  // URL parser resolves them away, so such a charge could never be looked up.
  if (header === '.' || header === '..') return undefined
  return header !== undefined && /^[\x21-\x7e]{1,255}$/.test(header) ? header : undefined
}
