// The console API's query parsing and its known errors (the one onError's map).
import type { Context, MiddlewareHandler } from 'hono'
import { readOnlyFilter } from '../../shared/http/query-filter.ts'
import {
  DeadLetterNotFoundError,
  DeadLetterNotReplayableError,
  DeadLetterReplayError,
  InvalidDeadLetterSubjectError,
} from '../../shared/nats/dead-letter-admin.ts'
import { CancellationReasonSchema } from '../../schemas/events.ts'
import { isNatsUnavailable } from '../../shared/nats/errors.ts'
import { KvRecordError } from '../../shared/nats/kv-json.ts'
import { ORDER_STATUSES, parseCursor, type Cursor, type SearchFilter } from './index-subjects.ts'

export interface SearchInput {
  search: SearchFilter
  limit: number
  before?: Cursor
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string }

/**
 * A route that takes no query parameter refuses one (400 `invalid_query`), as
 * the list routes refuse an unknown one: `/console/api/stock?sku=A` would
 * otherwise quietly answer every sku.
 */
export const takesNoQuery: MiddlewareHandler = async (c, next) => {
  const names = [...new Set(new URL(c.req.url).searchParams.keys())]
  if (names.length === 0) return next()
  const named = names.map((name) => JSON.stringify(name.slice(0, 40))).join(', ')
  return c.json(
    { error: 'invalid_query', message: `this route takes no query parameter (got ${named})` },
    400,
  )
}

const SEARCH_PARAMETERS: ReadonlySet<string> = new Set(['status', 'reason', 'customer', 'limit', 'cursor'])

/**
 * `status`, `reason`, `customer`, `cursor` and `limit` (1-100, default 50);
 * every problem at once. Any other parameter is one: a misspelt filter must
 * not quietly return every order.
 */
export function readSearch(params: URLSearchParams): Parsed<SearchInput> {
  const problems: string[] = []
  const unknown = [...new Set(params.keys())].filter((name) => !SEARCH_PARAMETERS.has(name))
  if (unknown.length > 0)
    problems.push(
      `unknown parameter ${unknown.map((name) => JSON.stringify(name.slice(0, 40))).join(', ')} (known: ${[...SEARCH_PARAMETERS].join(', ')})`,
    )
  const repeated = [...new Set(params.keys())].filter((name) => params.getAll(name).length > 1)
  if (repeated.length > 0)
    problems.push(
      `${repeated.map((name) => JSON.stringify(name.slice(0, 40))).join(', ')} given more than once`,
    )
  const search: SearchFilter = {}
  const status = params.get('status') ?? ''
  if (status !== '') {
    const known = ORDER_STATUSES.find((s) => s === status)
    if (known === undefined) problems.push(`status must be one of ${ORDER_STATUSES.join(', ')}`)
    else search.status = known
  }
  const reason = params.get('reason') ?? ''
  if (reason !== '') {
    const known = CancellationReasonSchema.options.find((r) => r === reason)
    if (known !== undefined) search.reason = known
    else problems.push(`reason must be one of ${CancellationReasonSchema.options.join(', ')}`)
  }
  const customer = params.get('customer') ?? ''
  if (customer !== '') {
    if (customer.length <= 64) search.customerId = customer
    else problems.push('customer must be at most 64 characters')
  }
  const limitText = params.get('limit') ?? ''
  // Digits only: `1e1`, `0x10`, `+5` and `05` are not what a client meant to send.
  const limit = limitText === '' ? 50 : /^[1-9]\d{0,2}$/.test(limitText) ? Number(limitText) : Number.NaN
  if (!Number.isInteger(limit) || limit < 1 || limit > 100)
    problems.push('limit must be an integer from 1 to 100')
  const cursorText = params.get('cursor') ?? ''
  const before = cursorText === '' ? undefined : parseCursor(cursorText)
  if (before === null) problems.push('cursor must be the next value of a previous page')
  if (problems.length > 0) return { ok: false, message: problems.join('; ') }
  return { ok: true, value: { search, limit, ...(before ? { before } : {}) } }
}

/**
 * The dead-letter routes' one parameter, `subject`, at most once and not
 * empty (left out: every subject). Anything else is refused: on the bulk purge a misspelt
 * filter would otherwise delete every dead letter.
 */
export function readDeadLetterSubject(params: URLSearchParams): Parsed<string | undefined> {
  return readOnlyFilter(params, 'subject')
}

/** A path's dead-letter id that is not one: 400, where a well-formed id of nothing is 404. */
export class InvalidDeadLetterIdError extends Error {
  override readonly name = 'InvalidDeadLetterIdError'
}

/** A dead letter's id, its DLQ sequence: digits only, from 1 (not `0x10`, `1e3`, `-1` or `01`). */
export function parseDeadLetterId(text: string): number {
  const id = /^[1-9]\d{0,15}$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(id))
    throw new InvalidDeadLetterIdError(
      `${JSON.stringify(text.slice(0, 40))} is not a dead-letter id (a DLQ sequence, digits from 1)`,
    )
  return id
}

export function consoleKnownErrors(error: Error, c: Context): Response | undefined {
  if (error instanceof InvalidDeadLetterIdError)
    return c.json({ error: 'invalid_dead_letter_id', message: error.message }, 400)
  if (error instanceof DeadLetterNotFoundError)
    return c.json({ error: 'not_found', message: error.message }, 404)
  if (error instanceof DeadLetterNotReplayableError)
    return c.json({ error: 'not_replayable', message: error.message }, 409)
  if (error instanceof InvalidDeadLetterSubjectError)
    return c.json({ error: 'invalid_subject', message: error.message }, 400)
  if (error instanceof KvRecordError)
    // Not an order-status record at all (one that is, forged or not, is shown as stored).
    return c.json({ error: 'invalid_record', message: `${error.message}; retrying will not help` }, 500)
  if (error instanceof DeadLetterReplayError || isNatsUnavailable(error)) {
    c.header('Retry-After', '1')
    // A replay's own message says whether it may have happened (replay-delegate.ts).
    const message =
      error instanceof DeadLetterReplayError ? error.message : 'NATS did not answer in time; retry shortly'
    return c.json({ error: 'unavailable', message }, 503)
  }
  return undefined
}
