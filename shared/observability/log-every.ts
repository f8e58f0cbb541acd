/**
 * A condition that recurs while it lasts (NATS down, a store at its cap, a
 * clock ahead) said at `level` at most once per `everyMs`, with how many
 * times it happened in between (`since`); the others at `debug`. An outage
 * of minutes under load is a few lines, not one per request. Each call names
 * its logger (a request's or a delivery's, with their fields).
 */
import type { LogFields, Logger } from './log.ts'

export function logEvery(
  level: 'info' | 'warn' | 'error',
  message: string,
  everyMs = 60_000,
  now: () => number = Date.now,
): (logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>, fields?: LogFields) => void {
  let saidAt = Number.NEGATIVE_INFINITY
  let since = 0
  return (logger, fields = {}) => {
    const at = now()
    if (at - saidAt < everyMs) {
      since++
      logger.debug(fields, message)
      return
    }
    logger[level](since === 0 ? fields : { ...fields, since }, message)
    saidAt = at
    since = 0
  }
}
