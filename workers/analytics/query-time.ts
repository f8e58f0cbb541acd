/**
 * Times as the analytics worker reads them, in the summary's query and in
 * ANALYTICS_REPLAY_FROM (`analytics --from`): an ISO 8601 time, a date (its
 * UTC midnight) or epoch milliseconds.
 */
import * as v from 'valibot'
import { instantOf } from '../../schemas/primitives.ts'

export const QUERY_TIME_MESSAGE =
  'must be an ISO 8601 time (2026-01-01T10:00:00Z), a date (2026-01-01, UTC midnight) or epoch milliseconds (0, or 11 to 15 digits), from 1970-01-01 to 9999-12-31T23:59Z'

/** 9999-12-31T23:59:00Z: a later time would round up to a minute without a four-digit year. */
const LAST_MS = 253_402_300_740_000

/**
 * A time in the summary's query: an ISO 8601 timestamp, a date (its UTC
 * midnight) or epoch milliseconds (0, or 11 to 15 digits), as ms since the epoch; null when it is
 * none of these, names a day that does not exist, or is past the last
 * minute of the year 9999.
 */
export function parseQueryTime(text: string): number | null {
  // Epoch milliseconds from 11 digits (1970-04-26 on), or 0 (the start): fewer is more likely
  // epoch seconds (10 digits until 2286) or a date written 20260101 than a time in early 1970.
  const ms = /^(?:0|\d{11,15})$/.test(text)
    ? Number(text)
    : instantOf(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text)
  return ms !== null && ms >= 0 && ms <= LAST_MS ? ms : null
}

/** The summary's `from` and `to`, one message whatever is wrong. */
export const QueryTime = v.pipe(
  v.string(),
  v.check((text) => parseQueryTime(text) !== null, QUERY_TIME_MESSAGE),
)
