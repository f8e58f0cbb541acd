/** Visible ASCII, no spaces, 1-128 characters: safe to log and to put in a NATS header. */
export const VISIBLE_ASCII = /^[\x21-\x7E]{1,128}$/

/**
 * The correlation id a request brings (`X-Correlation-ID`) when it is a
 * usable one, else a new UUID: every log line about an order carries one.
 */
export function correlationIdOf(given: string | undefined): string {
  return given !== undefined && VISIBLE_ASCII.test(given) ? given : crypto.randomUUID()
}
