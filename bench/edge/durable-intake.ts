/**
 * Bench-only alternative to workers/order/edge.ts: the intake inside a Durable
 * Object that keeps one NATS connection across requests (the Worker forwards
 * every request to the one object). Measured against connect-per-request by
 * bench/edge/connection-cost.ts; not deployed.
 */
import { jetstream } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { wsconnect } from '@nats-io/nats-core'
import { BUCKETS } from '../../schemas/subjects.ts'
import { createApiKeyVerifier } from '../../shared/http/api-keys.ts'
import { createRateLimiter } from '../../shared/http/rate-limit.ts'
import { connectOnce } from '../../shared/nats/connect-once.ts'
import { createConsoleLogger } from '../../shared/observability/console-logger.ts'
import { createLightMetrics } from '../../shared/observability/light-metrics.ts'
import { createWorkersWsFactory } from '../../shared/runtime/workers-websocket.ts'
import { createApp } from '../../workers/order/app.ts'
import { loadEdgeOrderConfig, toNatsAuth } from '../../workers/order/edge-config.ts'
import type { EdgeEnv } from '../../workers/order/edge.ts'
import { createTokenSealer, generateSealingKeyPair } from '../../shared/security/sealed-token.ts'
import { createNatsOrderStore } from '../../workers/order/order-store.ts'

type App = ReturnType<typeof createApp>

interface DurableNamespace {
  idFromName(name: string): unknown
  get(id: unknown): { fetch(request: Request): Promise<Response> }
}

export class OrderIntake {
  #app: Promise<App> | undefined

  constructor(
    _state: unknown,
    private readonly env: EdgeEnv,
  ) {}

  async fetch(request: Request): Promise<Response> {
    this.#app ??= this.#connect().catch((error: unknown) => {
      this.#app = undefined
      throw error
    })
    return (await this.#app).fetch(request)
  }

  async #connect(): Promise<App> {
    const config = loadEdgeOrderConfig(this.env)
    const timeoutMs = config.NATS_REQUEST_TIMEOUT_MS
    const logger = createConsoleLogger({ service: 'order-edge-do', level: config.LOG_LEVEL })
    const metrics = createLightMetrics('order-edge-do')
    const nc = await connectOnce({
      connect: wsconnect,
      servers: config.NATS_URL,
      timeoutMs,
      name: 'order-edge-do',
      wsFactory: createWorkersWsFactory(),
      options: toNatsAuth(config),
    })
    void nc.closed().then(() => (this.#app = undefined))
    const js = jetstream(nc, { timeout: timeoutMs, checkAPI: false })
    const kvm = new Kvm(js)
    const [statusKv, idempotencyKv] = await Promise.all([
      kvm.open(BUCKETS.orderStatus),
      kvm.open(BUCKETS.idempotency),
    ])
    const isConnected = () => !nc.isClosed()
    const store = createNatsOrderStore({
      js,
      nc,
      statusKv,
      idempotencyKv,
      isConnected,
      metrics,
      // A sketch for measuring connection cost: a throwaway key, nothing is ever opened.
      sealer: await createTokenSealer((await generateSealingKeyPair()).publicJwk),
      timeoutMs,
    })
    return createApp({
      store,
      logger,
      metrics,
      checkReady: () => Promise.resolve({ ok: isConnected() }),
      verifier: createApiKeyVerifier(config.API_KEYS),
      limiter: createRateLimiter({ perSecond: config.RATE_LIMIT_PER_SECOND, burst: config.RATE_LIMIT_BURST }),
    })
  }
}

export default {
  fetch(request: Request, env: { INTAKE: DurableNamespace }): Promise<Response> {
    return env.INTAKE.get(env.INTAKE.idFromName('intake')).fetch(request)
  },
}
