/**
 * True when a request's outcome is unknown: it may have reached the server
 * and taken effect, but no answer came (a timeout, the connection lost).
 * False when the server refused it (no stream to take it, a JetStream API
 * error, a permission): nothing was stored. By the errors' names (nats.js's
 * classes), so the edge bundle does not carry them for this.
 */
export function isOutcomeUnknown(error: unknown): boolean {
  let current: unknown = error
  for (let depth = 0; current instanceof Error && depth < 8; depth++, current = current.cause) {
    if (/^(NoResponders|JetStreamApiError|JetStreamStatusError|PermissionViolationError)$/.test(current.name))
      return false
    if (/no responders|permissions violation/i.test(current.message)) return false
    if (/^(TimeoutError|ClosedConnectionError|ConnectionError)$/.test(current.name)) return true
    if (/timeout|timed out|disconnect|connection closed/i.test(current.message)) return true
  }
  return false
}
