import { PermissionViolationError } from '@nats-io/nats-core'

/** The permission violation behind an error (nats.js wraps it in a request's error), if any. */
export function permissionViolationOf(error: unknown): PermissionViolationError | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++)
    if (e instanceof PermissionViolationError) return e
  return undefined
}
