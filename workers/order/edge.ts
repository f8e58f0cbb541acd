/**
 * The order intake as a Cloudflare Worker (`wrangler.toml`): the same
 * `createApp` as on Bun, Node and Deno, on NATS over WebSocket (`wss://`).
 * A Worker cannot keep a connection across requests, so every request
 * connects (bounded by NATS_REQUEST_TIMEOUT_MS: a dead NATS answers 503),
 * works and closes; the close finishes after the response (`waitUntil`).
 * Logs are JSON lines on the console; /metrics covers this isolate only.
 */
import { wsconnect } from '@nats-io/nats-core'
import { ConfigError } from '../../shared/config/load-config.ts'
import { createApiKeyVerifier, type ApiKeyVerifier } from '../../shared/http/api-keys.ts'
import { createCachedCheck, type CachedCheck } from '../../shared/http/cached-check.ts'
import type { Readiness } from '../../shared/http/observability-routes.ts'
import { setClientAddress } from '../../shared/http/client-address.ts'
import { createRateLimiter, type RateLimiter } from '../../shared/http/rate-limit.ts'
import { connectOnce } from '../../shared/nats/connect-once.ts'
import { createConsoleLogger } from '../../shared/observability/console-logger.ts'
import { createLightMetrics } from '../../shared/observability/light-metrics.ts'
import type { Logger } from '../../shared/observability/log.ts'
import type { IntakeMetrics } from '../../shared/observability/metrics-port.ts'
import { createWorkersWsFactory } from '../../shared/runtime/workers-websocket.ts'
import { createApp } from './app.ts'
import { intakeOperatorLines, type IntakeOperatorLines } from './operator-lines.ts'
import {
  fingerprinterFromSettings,
  type RequestFingerprinter,
} from '../../shared/security/request-fingerprint.ts'
import { createTokenSealer, type TokenSealer } from '../../shared/security/sealed-token.ts'
import { createConnectPerRequestStore } from './connect-per-request.ts'
import { fingerprintSecrets, loadEdgeOrderConfig, toNatsAuth, type EdgeOrderConfig } from './edge-config.ts'
import { SECURITY_HEADERS } from '../../shared/http/security-headers.ts'

/** Vars and secrets (strings), as bound in `wrangler.toml` / `wrangler secret put`. */
export type EdgeEnv = Readonly<Record<string, string | undefined>>

/** The part of the Workers `ExecutionContext` used here. */
export interface EdgeContext {
  waitUntil(promise: Promise<unknown>): void
}

interface Isolate {
  config: EdgeOrderConfig
  logger: Logger
  metrics: IntakeMetrics
  sealer: TokenSealer
  fingerprinter: RequestFingerprinter
  verifier: ApiKeyVerifier
  /** Buckets of this isolate only (see rate-limit.ts for several instances). */
  limiter: RateLimiter
  /**
   * `/ready` opens a NATS connection: its answer is kept for a second, and
   * shared by the probes that come meanwhile (the route answers anyone); no
   * probe waits on another's connection longer than NATS_REQUEST_TIMEOUT_MS.
   */
  readiness: CachedCheck<Readiness>
  /** Said at most once a minute per isolate, though the app is built per request. */
  operatorLines: IntakeOperatorLines
}

/** A sealer whose key import starts once per isolate and is awaited by the first seal. */
function lazySealer(publicKey: JsonWebKey): TokenSealer {
  const ready = createTokenSealer(publicKey)
  ready.catch(() => undefined) // surfaced by the seal that awaits it
  return { seal: async (token, orderId) => (await ready).seal(token, orderId) }
}

const wsFactory = createWorkersWsFactory()
/** How long a `/ready` answer is kept (as the other services' readiness). */
const READY_CACHE_MS = 1_000
let cached: { env: EdgeEnv; isolate: Isolate | ConfigError } | undefined

/** Config, logger and metrics live as long as the isolate (per env object). */
function isolateFor(env: EdgeEnv): Isolate | ConfigError {
  if (cached?.env === env) return cached.isolate
  let isolate: Isolate | ConfigError
  try {
    const config = loadEdgeOrderConfig(env)
    const logger = createConsoleLogger({ service: 'order-edge', level: config.LOG_LEVEL })
    isolate = {
      config,
      logger,
      metrics: createLightMetrics('order-edge'),
      sealer: lazySealer(config.PAYMENT_TOKEN_PUBLIC_KEY),
      fingerprinter: fingerprinterFromSettings(...fingerprintSecrets(config)),
      verifier: createApiKeyVerifier(config.API_KEYS),
      limiter: createRateLimiter({ perSecond: config.RATE_LIMIT_PER_SECOND, burst: config.RATE_LIMIT_BURST }),
      operatorLines: intakeOperatorLines(),
      readiness: createCachedCheck<Readiness>(READY_CACHE_MS, {
        maxWaitMs: config.NATS_REQUEST_TIMEOUT_MS,
        timedOut: () => ({ ok: false, reason: 'NATS unreachable' }),
      }),
    }
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(
      JSON.stringify({
        level: 'error',
        service: 'order-edge',
        problems: error.problems,
        msg: 'invalid configuration',
      }),
    )
    isolate = error
  }
  cached = { env, isolate }
  return isolate
}

function handle(request: Request, env: EdgeEnv, ctx: EdgeContext): Promise<Response> | Response {
  const isolate = isolateFor(env)
  if (isolate instanceof ConfigError) {
    return Response.json(
      { error: 'misconfigured', message: 'the order intake is misconfigured; see its logs' },
      { status: 500, headers: SECURITY_HEADERS },
    )
  }
  const { config, logger, metrics, sealer, fingerprinter, verifier, limiter, readiness, operatorLines } =
    isolate
  // Cloudflare sets it (a client cannot): the address failed attempts are
  // limited by. A request without it shares one bucket.
  setClientAddress(request, request.headers.get('CF-Connecting-IP') ?? '-')
  const timeoutMs = config.NATS_REQUEST_TIMEOUT_MS
  const open = () =>
    connectOnce({
      connect: wsconnect,
      servers: config.NATS_URL,
      timeoutMs,
      name: 'order-edge',
      wsFactory,
      options: toNatsAuth(config),
    })
  // The store (and so the app) is per request: its close goes to this request's waitUntil.
  const { store, checkReady } = createConnectPerRequestStore({
    open,
    logger,
    metrics,
    sealer,
    fingerprinter,
    timeoutMs,
    statusWaitMs: config.ORDER_STATUS_WAIT_MS,
    versions: config.ORDER_CREATED_VERSIONS,
    laneSignalHoldMs: config.LANE_SIGNAL_HOLD_MS,
    ...(config.RECORD_KEYS === undefined ? {} : { recordKeys: config.RECORD_KEYS }),
    tolerateUnsealed: config.RECORD_SEALS === 'tolerate',
    defer: (p) => ctx.waitUntil(p),
    notReady: operatorLines.notReady,
  })
  const app = createApp({
    store,
    logger,
    metrics,
    checkReady: () => readiness(checkReady),
    verifier,
    limiter,
    service: 'order-edge',
    maxBodyBytes: config.ORDER_MAX_BODY_BYTES,
    expressKeys: config.ORDER_EXPRESS_KEYS,
    currency: config.ORDER_CURRENCY,
    retryAfterSeconds: config.ORDER_RETRY_AFTER_SECONDS,
    operatorLines,
  })
  return app.fetch(request)
}

export default { fetch: handle }
