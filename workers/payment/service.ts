import { Counter, Gauge } from '../../shared/observability/prom.ts'
import { createObservabilityApp } from '../../shared/http/observability-routes.ts'
import type { ConnectFn } from '../../shared/nats/connect.ts'
import type { SagaConsumerName } from '../../shared/nats/saga-consumers.ts'
import { startDurableConsumer, startNatsRuntime, toStoppable } from '../../shared/nats/runtime.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import { createGate } from '../../shared/resilience/gate.ts'
import { CircuitState, circuitStateName } from '../../shared/resilience/policies.ts'
import type { PaymentConfig } from './config.ts'
import {
  CircuitOpenError,
  createGatewayClient,
  GatewayUnavailableError,
  type ChargeRequest,
} from './gateway-client.ts'
import { createTokenOpener } from '../../shared/security/sealed-token.ts'
import { createPaymentHandlers } from './handlers.ts'

export const PAYMENT_CONSUMER = 'payment' satisfies SagaConsumerName

export async function startPaymentService(
  config: PaymentConfig,
  deps: { connect: ConnectFn; logger: Logger; metrics: Metrics; fetch?: typeof fetch },
) {
  const { logger, metrics } = deps
  const registers = [metrics.registry]
  const breakerState = new Gauge({
    name: 'payment_breaker_state',
    help: 'Payment gateway circuit breaker: 0 closed, 1 open, 2 half-open',
    registers,
  })
  const gatewayCalls = new Counter({
    name: 'payment_gateway_charges_total',
    help: 'Charges by outcome (succeeded, declined, unavailable, error)',
    labelNames: ['outcome'],
    registers,
  })

  const client = createGatewayClient({
    baseUrl: config.PAYMENT_GATEWAY_URL,
    secretKey: config.GATEWAY_SECRET_KEY,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    timeoutMs: config.PAYMENT_TIMEOUT_MS,
    retries: config.PAYMENT_RETRIES,
    retryInitialDelayMs: config.PAYMENT_RETRY_INITIAL_DELAY_MS,
    retryMaxDelayMs: config.PAYMENT_RETRY_MAX_DELAY_MS,
    breakerFailureRate: config.PAYMENT_BREAKER_FAILURE_RATE,
    breakerWindowMs: config.PAYMENT_BREAKER_WINDOW_MS,
    breakerMinCalls: config.PAYMENT_BREAKER_MIN_CALLS,
    halfOpenAfterMs: config.PAYMENT_BREAKER_HALF_OPEN_MS,
  })
  // While the breaker is open the consumer pulls nothing (no deliveries burnt).
  // cockatiel half-opens on the next call after PAYMENT_BREAKER_HALF_OPEN_MS,
  // so the gate reopens by timer to let that trial call happen.
  const gate = createGate()
  let reopen: ReturnType<typeof setTimeout> | undefined
  breakerState.set(CircuitState.Closed)
  metrics.consumerPaused.set({ consumer: PAYMENT_CONSUMER }, 0)
  client.breaker.onStateChange((state) => {
    breakerState.set(state === CircuitState.HalfOpen ? 2 : state === CircuitState.Open ? 1 : 0)
    logger.warn({ breaker: circuitStateName(state) }, 'payment gateway breaker changed state')
    clearTimeout(reopen)
    // Nothing is pulled while the gate is closed: the gauge follows the gate.
    metrics.consumerPaused.set({ consumer: PAYMENT_CONSUMER }, state === CircuitState.Open ? 1 : 0)
    if (state === CircuitState.Open) {
      gate.close()
      reopen = setTimeout(gate.open, config.PAYMENT_BREAKER_HALF_OPEN_MS)
    } else {
      gate.open()
    }
  })
  const gateway = {
    charge: async (request: ChargeRequest) => {
      try {
        const outcome = await client.charge(request)
        gatewayCalls.inc({ outcome: outcome.kind })
        return outcome
      } catch (error) {
        gatewayCalls.inc({
          outcome:
            error instanceof GatewayUnavailableError || error instanceof CircuitOpenError
              ? 'unavailable'
              : 'error',
        })
        throw error
      }
    },
  }

  const rt = await startNatsRuntime('payment', config, deps)
  const consumer = await startDurableConsumer(rt, {
    durable: PAYMENT_CONSUMER,
    handlers: createPaymentHandlers({
      gateway,
      tokens: await createTokenOpener(config.PAYMENT_TOKEN_PRIVATE_KEYS),
      maxPauseMs: config.PAYMENT_MAX_PAUSE_MS,
    }),
    gate,
  })

  const app = createObservabilityApp({
    service: 'payment',
    metrics,
    logger,
    checkReady: rt.readiness.check,
  })

  const stoppable = toStoppable(rt, [consumer])
  return {
    app,
    ...stoppable,
    stopConsuming: async () => {
      clearTimeout(reopen)
      gate.open()
      await stoppable.stopConsuming()
    },
  }
}
