// The one synchronisation primitive for tests: poll a condition with a deadline.
import { createServer } from 'node:net'
import type { Server } from 'node:net'

export interface WaitForOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number
  /** Pause between attempts (default 50 ms). */
  intervalMs?: number
  /** What was awaited, for the error. */
  message?: string
}

export class WaitForTimeoutError extends Error {
  override readonly name = 'WaitForTimeoutError'
}

type Falsy = undefined | null | false

/**
 * Calls `fn` until it returns a truthy value (which it resolves with) or the
 * deadline passes. Errors thrown by `fn` count as "not yet"; the last one is
 * reported in the timeout error and set as its `cause`. An attempt that hangs
 * is cut short by the deadline.
 */
export async function waitFor<T>(
  fn: () => T | Falsy | Promise<T | Falsy>,
  { timeoutMs = 10_000, intervalMs = 50, message = 'condition' }: WaitForOptions = {},
): Promise<T> {
  const started = Date.now()
  const deadline = started + timeoutMs
  let lastError: unknown
  let attempts = 0
  for (;;) {
    attempts++
    const remaining = deadline - Date.now()
    try {
      const value = await withTimeout(Promise.resolve().then(fn), remaining)
      if (value !== timedOut && value) return value
    } catch (err) {
      lastError = err
    }
    const left = deadline - Date.now()
    if (left <= 0) break
    await new Promise((done) => setTimeout(done, Math.min(intervalMs, left)))
  }
  const last = lastError === undefined ? '' : `; last error: ${describe(lastError)}`
  throw new WaitForTimeoutError(
    `timed out after ${Date.now() - started} ms (${attempts} attempts) waiting for ${message}${last}`,
    { cause: lastError },
  )
}

const timedOut = Symbol('timed out')

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | typeof timedOut> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<typeof timedOut>((done) => {
    timer = setTimeout(() => done(timedOut), Math.max(0, ms))
  })
  // A hung attempt that fails later must not become an unhandled rejection.
  promise.catch(() => undefined)
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS may hand it out again). */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1)
  if (port === undefined) throw new Error('no port allocated')
  return port
}

/** `count` distinct free ports: all are held open together before being released. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = []
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer()
      servers.push(server)
      await new Promise<void>((done, fail) => {
        server.once('error', fail)
        server.listen(0, '127.0.0.1', () => done())
      })
    }
    return servers.map((server) => {
      const address = server.address()
      if (address === null || typeof address === 'string') throw new Error('listener has no TCP port')
      return address.port
    })
  } finally {
    await Promise.all(servers.map((s) => new Promise((done) => s.close(done))))
  }
}
