/**
 * Where standard work waits for the express work in flight in its process
 * (lane-priority.ts). The stores and publishers call `laneYield()` before a
 * NATS request, in their caller's context; the message loop says which lane
 * that context belongs to. This module imports nothing, so the code it is
 * called from (publish.ts, the record writer) stays free of runtime-specific
 * APIs; in a process without a message loop (the intake, a Worker) it never
 * waits.
 */
type Yield = () => Promise<void> | undefined

let current: Yield = () => undefined

/** Set once by lane-priority.ts when it is loaded. */
export function setLaneYield(next: Yield): void {
  current = next
}

/** A promise to await first when the caller is standard work and express work is in flight; else `undefined`. */
export function laneYield(): Promise<void> | undefined {
  return current()
}
