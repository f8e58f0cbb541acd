/**
 * One bounded connection attempt, for request-scoped connections (the edge):
 * no retries, no reconnects, and a hard deadline. `wsconnect` never settles
 * when its `wsFactory` throws, so the attempt races the factory's error and a
 * timer: a dead or silent server costs at most `timeoutMs`, never a hang.
 */
import type {
  ConnectionOptions,
  NatsConnection,
  WsConnectionOptions,
  WsSocketFactory,
} from '@nats-io/nats-core'
import { shownUrl } from '../config/shown-url.ts'
import { withDeadline } from '../resilience/deadline.ts'
import type { ConnectFn } from './connect.ts'

/** The attempt failed or ran out of time; the cause says which. */
export class NatsUnreachableError extends Error {
  override readonly name = 'NatsUnreachableError'
}

export interface ConnectOnceOptions {
  connect: ConnectFn
  servers: readonly string[]
  timeoutMs: number
  /** Client name shown by the server. */
  name: string
  /** Opens the WebSocket (Workers: `createWorkersWsFactory()`); native `WebSocket` otherwise. */
  wsFactory?: WsSocketFactory
  /** Auth and other client options. */
  options?: Partial<ConnectionOptions>
}

export async function connectOnce({
  connect,
  servers,
  timeoutMs,
  name,
  wsFactory,
  options = {},
}: ConnectOnceOptions): Promise<NatsConnection> {
  let factoryFailed: (error: unknown) => void = () => undefined
  const failure = new Promise<never>((_, reject) => {
    factoryFailed = reject
  })
  failure.catch(() => undefined)
  const clientOptions: WsConnectionOptions = {
    servers: [...servers],
    name,
    timeout: timeoutMs,
    reconnect: false,
    maxReconnectAttempts: 0,
    ...options,
    ...(wsFactory === undefined
      ? {}
      : {
          wsFactory: async (url, opts) => {
            try {
              return await wsFactory(url, opts)
            } catch (error) {
              factoryFailed(error)
              throw error
            }
          },
        }),
  }
  const attempt = connect(clientOptions)
  try {
    return await withDeadline(
      Promise.race([attempt, failure]),
      timeoutMs,
      () => new Error(`no NATS connection within ${timeoutMs} ms`),
    )
  } catch (error) {
    // A connection that completes after the deadline is closed, not leaked.
    attempt
      .then(
        (nc) => nc.close(),
        () => undefined,
      )
      .catch(() => undefined)
    throw new NatsUnreachableError(`could not connect to ${servers.map(shownUrl).join(', ')}`, {
      cause: error,
    })
  }
}
