import { InvalidArgumentError, type ConnectionOptions, type NatsConnection } from '@nats-io/nats-core'
import { backOff } from 'exponential-backoff'
import type { Logger } from '../observability/logger.ts'
import { isAuthorizationError, isPermissionViolation } from './errors.ts'
import { shownUrl } from '../config/shown-url.ts'

/** The longest wait between two attempts of an identity the server refuses. */
const AUTH_RETRY_MAX_MS = 30_000

/** The transport's connect: `connect` from transport-node, or `wsconnect`. */
export type ConnectFn = (options: ConnectionOptions) => Promise<NatsConnection>

export class NatsConnectError extends Error {
  override readonly name = 'NatsConnectError'
}

export interface ConnectOptions {
  connect: ConnectFn
  servers: readonly string[]
  /** Client name shown by the server (`connz`). */
  name: string
  logger: Logger
  /** Give up the first connection after this long. Default 5 minutes. */
  maxWaitMs?: number
  /** First retry delay; doubles up to `maxDelayMs`, with full jitter. */
  initialDelayMs?: number
  maxDelayMs?: number
  /**
   * Once connected, the longest wait between two reconnect attempts while the
   * servers do not answer ({@link reconnectWaitMs}; plus up to 0.5 s of
   * jitter). Default 5 s.
   */
  reconnectMaxDelayMs?: number
  /** Extra client options (auth, TLS, wsFactory, ...). */
  options?: Partial<ConnectionOptions>
}

/** A connection plus what readiness checks need to know about it. */
export interface NatsHandle {
  nc: NatsConnection
  /** False between a `disconnect` and the next `reconnect`. */
  isConnected: () => boolean
}

/**
 * The wait before the next reconnect attempt, `outageMs` into an outage: the
 * client's `baseMs` (1 s) for the first seconds, so a server restarted in a
 * few seconds is found again within about one of them; then a quarter of the
 * outage so far (the waits grow by a quarter each, exponentially), up to
 * `capMs`. An outage of minutes costs a server coming back a few attempts per
 * client a minute, not sixty.
 */
export function reconnectWaitMs(outageMs: number, baseMs: number, capMs: number): number {
  return Math.min(Math.max(baseMs, capMs), Math.max(baseMs, outageMs / 4))
}

/**
 * Connects with exponential backoff and full jitter until `maxWaitMs` has
 * passed. Once connected, the client itself reconnects forever
 * (`maxReconnectAttempts: -1`, authorization errors included): a broker
 * outage must never end the service.
 */
export async function connectNats({
  connect,
  servers,
  name,
  logger,
  maxWaitMs = 5 * 60_000,
  initialDelayMs = 250,
  maxDelayMs = 10_000,
  reconnectMaxDelayMs = 5_000,
  options = {},
}: ConnectOptions): Promise<NatsHandle> {
  const deadline = Date.now() + maxWaitMs
  const shown = servers.map(shownUrl)
  const clientOptions: ConnectionOptions = {
    servers: [...servers],
    name,
    maxReconnectAttempts: -1,
    // Also through authorization errors: nats.js closes the connection for
    // good after two in a row, and the service would stay up, never ready,
    // until someone restarted it (an identity's key rotated in the wrong
    // order, a reload with a mistake). Its key put back, it reconnects;
    // while it is refused, the waits grow (reconnectDelayHandler below).
    ignoreAuthErrorAbort: true,
    reconnectTimeWait: 1_000,
    reconnectJitter: 500,
    timeout: Math.min(5_000, maxWaitMs),
    pingInterval: 10_000,
    maxPingOut: 3,
    // Without it the client builds an Error per request just for the stack of
    // where it started (a few % of a worker's CPU); errors keep their types.
    noAsyncTraces: true,
    ...options,
  }
  // While the servers do not answer, the wait before the next attempt grows
  // with the outage (reconnectWaitMs), each plus jitter. nats.js asks for the
  // wait more than once per attempt, so it is a function of time, not of the
  // number of calls. Refusals of this identity double it up to 30 s, and only
  // the first is logged at error level, so a revoked identity neither hammers
  // the server nor floods the log.
  let outageSince: number | undefined
  let refusals = 0
  const jitter = (): number => Math.random() * (clientOptions.reconnectJitter ?? 0)
  const base = clientOptions.reconnectTimeWait ?? 1_000
  clientOptions.reconnectDelayHandler ??= () => {
    if (refusals > 0) return Math.min(AUTH_RETRY_MAX_MS, (base + jitter()) * 2 ** Math.min(refusals, 6))
    const now = Date.now()
    outageSince ??= now
    return reconnectWaitMs(now - outageSince, base, reconnectMaxDelayMs) + jitter()
  }
  let lastError: unknown
  let nc: NatsConnection
  try {
    // Each attempt, and the waits between them, end by the deadline (give or
    // take a quarter of it): a short NATS_CONNECT_TIMEOUT_MS is kept.
    const attempt = () => {
      const remaining = deadline - Date.now()
      const timeout = Math.max(100, Math.min(clientOptions.timeout ?? 5_000, remaining))
      return connect({ ...clientOptions, timeout })
    }
    nc = await backOff(attempt, {
      startingDelay: Math.min(initialDelayMs, Math.max(1, maxWaitMs / 4)),
      maxDelay: Math.max(1, Math.min(maxDelayMs, maxWaitMs / 4)),
      timeMultiple: 2,
      jitter: 'full',
      numOfAttempts: Number.MAX_SAFE_INTEGER,
      retry: (error: unknown, attempt: number) => {
        lastError = error
        // Wrong credentials or a URL this client cannot use (ws:// on Bun or Node): waiting changes nothing.
        if (isAuthorizationError(error) || error instanceof InvalidArgumentError) return false
        const remaining = deadline - Date.now()
        // Out of time: no retry to announce; the caller says why it gives up.
        if (remaining <= 0) return false
        // A refused or unreachable server: its message says it, a stack adds nothing.
        const reason = error instanceof Error ? error.message : String(error)
        logger.warn(
          { reason, attempt, servers: shown, remainingMs: remaining },
          'nats connect failed; retrying',
        )
        return true
      },
    })
  } catch (error) {
    if (isAuthorizationError(error)) {
      throw new NatsConnectError(
        `${shown.join(', ')} refused this service's credentials (check NATS_NKEY_SEED / NATS_NKEY_SEED_FILE)`,
        { cause: error },
      )
    }
    if (error instanceof InvalidArgumentError) {
      throw new NatsConnectError(
        `NATS_URL ${shown.join(', ')}: ${error.message} (this client takes nats:// and tls://; ws:// and wss:// are for the Deno and Workers intakes)`,
        { cause: error },
      )
    }
    const last = lastError ?? error
    const why = last instanceof Error && last.message !== '' ? `: ${last.message}` : ''
    throw new NatsConnectError(
      `could not connect to ${shown.join(', ')} within ${maxWaitMs} ms (NATS_URL, NATS_CONNECT_TIMEOUT_MS)${why}`,
      { cause: last },
    )
  }
  logger.info({ server: shownUrl(nc.getServer()), servers: shown }, 'nats connected')
  // The first connection's attempts are not an outage of this one.
  outageSince = undefined

  let connected = true
  void (async () => {
    for await (const status of nc.status()) {
      switch (status.type) {
        case 'disconnect':
          // nats.js says so again after each failed attempt: once per outage is enough.
          if (connected) logger.warn({ server: shownUrl(status.server) }, 'nats disconnected')
          else logger.debug({ server: shownUrl(status.server) }, 'nats reconnect attempt failed')
          connected = false
          break
        case 'reconnect':
          connected = true
          outageSince = undefined
          refusals = 0
          logger.info({ server: shownUrl(status.server) }, 'nats reconnected')
          break
        case 'reconnecting':
          logger.debug('nats reconnecting')
          break
        case 'error':
          if (isAuthorizationError(status.error)) {
            refusals++
            if (refusals === 1)
              logger.error(
                { reason: status.error.message },
                'nats refused this identity; retrying, less often each time, until it is taken again',
              )
            else logger.debug({ reason: status.error.message, refusals }, 'nats refused this identity again')
          } else if (isPermissionViolation(status.error)) {
            // One line each, no stack: the identity's rights, not the code, are the matter.
            // Replays refused to an identity without them (the edge's) are said by replay-delegate.ts.
            if (/subscription to "saga\.replay\./i.test(status.error.message))
              logger.debug({ reason: status.error.message }, 'nats refused this identity a subject')
            else logger.error({ reason: status.error.message }, 'nats refused this identity a subject')
          } else logger.error({ err: status.error }, 'nats server error')
          break
        case 'ldm':
          logger.warn({ server: shownUrl(status.server) }, 'nats server entering lame duck mode')
          break
        case 'staleConnection':
          logger.warn('nats connection stale')
          break
        default:
          break
      }
    }
  })().catch((error: unknown) => logger.error({ err: error }, 'nats status loop failed'))
  void nc.closed().then((error) => {
    connected = false
    if (error) logger.error({ err: error }, 'nats connection closed with error')
    else logger.info('nats connection closed')
  })

  return { nc, isConnected: () => connected && !nc.isClosed() }
}
