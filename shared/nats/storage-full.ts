/**
 * A write refused at a stream's or bucket's size cap (JetStream 10077
 * "maximum bytes exceeded", sent with status 503): not an outage, and waiting
 * alone does not end it; nothing was written. Read from the cause chain
 * without importing the client's error classes, which the Worker's bundle
 * does not otherwise carry.
 */
export function isStorageFull(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++)
    if ((e as { code?: unknown }).code === 10077) return true
  return false
}
