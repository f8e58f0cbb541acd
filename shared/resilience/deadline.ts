/**
 * Settles with `work`, or rejects with `onTimeout()` after `ms`; the timer
 * never outlives the race. The work itself is not cancelled: callers make it
 * idempotent (a message id) so finishing late is harmless.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}
