import { Counter, Gauge } from '../../shared/observability/prom.ts'
import { swaggerUiAssets } from '../../shared/http/swagger-ui-assets.ts'
import { createObservabilityApp } from '../../shared/http/observability-app.ts'
import type { ConnectFn } from '../../shared/nats/connect.ts'
import type { SagaConsumerName } from '../../shared/nats/saga-consumers.ts'
import { startDurableConsumer, startNatsRuntime, toStoppable } from '../../shared/nats/runtime.ts'
import { combineConsumers } from '../../shared/nats/consumer.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import type { TraceContext } from '../../shared/observability/trace-context.ts'
import { createPropagatingTracer, inSpan, type Tracer } from '../../shared/observability/tracing.ts'
import { createGate } from '../../shared/resilience/gate.ts'
import { CircuitState, circuitStateName } from '../../shared/resilience/policies.ts'
import type { PaymentConfig } from './config.ts'
import { ConfigError } from '../../shared/config/load-config.ts'
import { BUCKETS } from '../../schemas/subjects.ts'
import { openBucket } from '../../shared/nats/runtime.ts'
import { ID_TAKEN, publishEvent } from '../../shared/nats/publish.ts'
import { EVENT_SOURCES } from '../../shared/nats/cloudevents.ts'
import { kvDecisionStore } from '../../shared/saga/decision.ts'
import { CircuitOpenError, createGatewayClient, type ChargeRequest } from './gateway-client.ts'
import { importNodeAesGcmKey } from '../../shared/security/aes-gcm-node.ts'
import { createTokenOpener } from '../../shared/security/sealed-token.ts'
import { createPaymentHandlers } from './handlers.ts'
import { addEntry, createReconciler } from './reconciliation.ts'

export const PAYMENT_CONSUMER = 'payment' satisfies SagaConsumerName
export const PAYMENT_EXPRESS_CONSUMER = 'payment-express' satisfies SagaConsumerName

/** What the processor's refusal of GATEWAY_SECRET_KEY is called, at start and after a start-up wait. */
const KEY_REFUSED =
  'GATEWAY_SECRET_KEY: the payment gateway (PAYMENT_GATEWAY_URL) refuses this key (401 or 403)'

export async function startPaymentService(
  config: PaymentConfig,
  deps: { connect: ConnectFn; logger: Logger; metrics: Metrics; tracer?: Tracer; fetch?: typeof fetch },
) {
  const { logger, metrics } = deps
  const tracer = deps.tracer ?? createPropagatingTracer()
  const registers = [metrics.registry]
  const breakerState = new Gauge({
    name: 'payment_breaker_state',
    help: 'Payment gateway circuit breaker: 0 closed, 1 open, 2 half-open',
    registers,
  })
  const GATEWAY_OUTCOMES = [
    'succeeded',
    'declined',
    'unresolved',
    'not_sent',
    'unavailable',
    'error',
  ] as const
  const gatewayCalls = new Counter({
    name: 'payment_gateway_charges_total',
    help: `Charges by outcome (${GATEWAY_OUTCOMES.join(', ')})`,
    labelNames: ['outcome'],
    registers,
  })
  // Every outcome's series exists from the start at 0, so `increase()` sees the first one.
  for (const outcome of GATEWAY_OUTCOMES) gatewayCalls.inc({ outcome }, 0)

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
    settleBudgetMs: config.PAYMENT_SETTLE_BUDGET_MS,
    settlePollMs: config.PAYMENT_SETTLE_POLL_MS,
  })
  const reconcilePending = new Gauge({
    name: 'payment_reconciliation_pending',
    help: 'Charges and refunds still being checked with the processor',
    registers,
  })
  const reconcileOldest = new Gauge({
    name: 'payment_reconciliation_oldest_seconds',
    help: 'How long the oldest charge or refund still being checked with the processor has waited (0: none)',
    registers,
  })
  // While the breaker is open the consumer pulls nothing (no deliveries burnt).
  // After PAYMENT_BREAKER_HALF_OPEN_MS one probe (a look-up nobody uses, not
  // an order's charge) is the half-open trial: one customer's slow card can
  // never be the call that keeps the breaker open for everyone.
  const gate = createGate()
  let probeTimer: ReturnType<typeof setTimeout> | undefined
  let stopped = false
  /** Started while the processor did not answer: nothing is pulled until it does (below). */
  let waitingForGateway = false
  let reachTimer: ReturnType<typeof setTimeout> | undefined
  let armStartHold = (): void => undefined
  const probe = () => {
    if (stopped) return
    client.probe().catch((error: unknown) => {
      logger.warn({ err: error }, 'payment gateway probe failed; breaker stays open')
      // Still open (the trial came early, or a probe was already running): try again later.
      if (client.breaker.state === CircuitState.Open)
        probeTimer = setTimeout(probe, config.PAYMENT_BREAKER_HALF_OPEN_MS)
    })
  }
  breakerState.set(CircuitState.Closed)
  // One gate for both lanes: both consumers' gauges follow it.
  const setPaused = (paused: 0 | 1) => {
    for (const consumer of [PAYMENT_CONSUMER, PAYMENT_EXPRESS_CONSUMER])
      metrics.consumerPaused.set({ consumer }, paused)
  }
  setPaused(0)
  client.breaker.onStateChange((state) => {
    breakerState.set(state === CircuitState.HalfOpen ? 2 : state === CircuitState.Open ? 1 : 0)
    logger.warn({ breaker: circuitStateName(state) }, 'payment gateway breaker changed state')
    clearTimeout(probeTimer)
    // Nothing is pulled while the gate is closed: the gauge follows the gate.
    setPaused(state === CircuitState.Closed ? 0 : 1)
    if (state === CircuitState.Closed) {
      waitingForGateway = false
      clearTimeout(reachTimer)
      gate.open()
    } else {
      gate.close()
      if (state === CircuitState.Open) probeTimer = setTimeout(probe, config.PAYMENT_BREAKER_HALF_OPEN_MS)
    }
  })
  // A client span per call to the processor (retries and polls inside it); the
  // processor gets its context as `traceparent`.
  const gatewaySpan = (name: string, key: string, parent: TraceContext | undefined) =>
    ({
      kind: 'client',
      parent,
      attributes: { 'payment.idempotency_key': key, 'payment.operation': name },
    }) as const
  const gateway = {
    charge: (
      request: ChargeRequest,
      trace?: TraceContext,
      correlationId?: string,
      stillWanted?: () => Promise<boolean>,
      notAfter?: number,
    ) =>
      inSpan(tracer, 'gateway charge', gatewaySpan('charge', request.orderId, trace), async (span) => {
        try {
          const outcome = await client.charge(request, span.context, correlationId, stillWanted, notAfter)
          // A charge the deadline stopped before any attempt made no call.
          gatewayCalls.inc({
            outcome: outcome.kind === 'unresolved' && outcome.notSent ? 'not_sent' : outcome.kind,
          })
          span.setAttributes({ 'payment.outcome': outcome.kind })
          return outcome
        } catch (error) {
          gatewayCalls.inc({ outcome: error instanceof CircuitOpenError ? 'unavailable' : 'error' })
          throw error
        }
      }),
    refund: (input: {
      chargeId: string
      key: string
      trace?: TraceContext | undefined
      correlationId?: string | undefined
    }) =>
      inSpan(tracer, 'gateway refund', gatewaySpan('refund', input.key, input.trace), (span) =>
        client.refund({ ...input, trace: span.context }),
      ),
    lookup: (key: string, trace?: TraceContext, correlationId?: string) =>
      inSpan(tracer, 'gateway lookup', gatewaySpan('lookup', key, trace), (span) =>
        client.lookup(key, span.context, correlationId),
      ),
  }

  // The keys import before NATS is reached: a bad one stops the service at once, not after the connect.
  const tokens = await createTokenOpener(config.PAYMENT_TOKEN_PRIVATE_KEYS, {
    importAesGcmKey: importNodeAesGcmKey,
  })
  // A secret key the processor refuses would fail every charge until each is
  // dead-lettered: such a key stops the service here, like any bad setting.
  const key = await client.checkKey()
  if (key === 'refused') throw new ConfigError([KEY_REFUSED])
  if (key === 'unreachable' && config.PAYMENT_START_HOLD_MAX_MS > 0) {
    // A start (a restart, a deploy) during an outage: each message pulled now
    // would fail, be held, and at the next stop go back as one more delivery
    // counted against CONSUMER_MAX_DELIVER, until held orders are dead-lettered.
    // So the gate starts closed, as for an open breaker, and opens once the
    // processor answers the same look-up (its key checked then), or after
    // PAYMENT_START_HOLD_MAX_MS: an order's deadline (its cancel request is on
    // the same consumer) is kept by a pulled, held message, not by one left
    // at the server.
    waitingForGateway = true
    gate.close()
    setPaused(1)
    logger.warn(
      { retryMs: config.PAYMENT_BREAKER_HALF_OPEN_MS, maxMs: config.PAYMENT_START_HOLD_MAX_MS },
      'payment gateway not reachable at start: consuming nothing until it answers',
    )
    const startedAt = Date.now()
    const untilReachable = () => {
      if (stopped || !waitingForGateway) return
      void client.checkKey().then((now) => {
        if (stopped || !waitingForGateway) return
        const left = config.PAYMENT_START_HOLD_MAX_MS - (Date.now() - startedAt)
        if (now === 'unreachable' && left > 0) {
          reachTimer = setTimeout(untilReachable, Math.min(config.PAYMENT_BREAKER_HALF_OPEN_MS, left))
          return
        }
        waitingForGateway = false
        if (now === 'refused') {
          // As at start: every charge would fail on it until each order is
          // dead-lettered. Nothing is pulled; a restart stops on the same check.
          logger.error(`${KEY_REFUSED}: consuming nothing; restart with a key it takes`)
          return
        }
        // The breaker may have opened meanwhile (reconciliation's calls): it keeps the gate then.
        if (client.breaker.state !== CircuitState.Closed) {
          logger.info('start-up wait over; the open payment gateway breaker holds consumption')
          return
        }
        logger.info(
          now === 'accepted'
            ? 'payment gateway answers: consuming'
            : 'payment gateway still not reachable after PAYMENT_START_HOLD_MAX_MS: consuming; the breaker holds what fails',
        )
        setPaused(0)
        gate.open()
      })
    }
    // Armed once the consumers exist (below): a start that fails before leaves no timer behind.
    armStartHold = () => {
      reachTimer = setTimeout(
        untilReachable,
        Math.min(config.PAYMENT_BREAKER_HALF_OPEN_MS, config.PAYMENT_START_HOLD_MAX_MS),
      )
    }
  } else if (key === 'unreachable') {
    logger.warn('payment gateway not reachable at start: its secret key is checked on the first charge')
  }
  const rt = await startNatsRuntime('payment', config, { ...deps, tracer })
  const decisions = kvDecisionStore(await openBucket(rt, BUCKETS.decisions))
  const reconciliationKv = await openBucket(rt, BUCKETS.reconciliation)
  const reconciliationSubjects = `$KV.${BUCKETS.reconciliation}.`
  const reconciler = createReconciler({
    kv: reconciliationKv,
    listKeys: async () => {
      const info = await rt.jsm.streams.info(`KV_${BUCKETS.reconciliation}`, {
        subjects_filter: `${reconciliationSubjects}>`,
      })
      return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(reconciliationSubjects.length))
    },
    gateway,
    decisions,
    publish: async (event, correlationId, trace, priority) => {
      const ack = await publishEvent(rt.js, event, {
        correlationId,
        timeoutMs: config.NATS_REQUEST_TIMEOUT_MS,
        source: EVENT_SOURCES.payment,
        trace,
        ...(priority === undefined ? {} : { priority }),
        onIdTaken: (taken) => logger.error({ event: event.subject, ...taken }, ID_TAKEN),
        idKey: rt.idKey,
      })
      if (!ack.duplicate) rt.metrics.eventsPublished.inc({ subject: event.subject })
    },
    tracer,
    logger: logger.child({ component: 'reconciliation' }),
    intervalMs: config.PAYMENT_RECONCILE_INTERVAL_MS,
    windowMs: config.PAYMENT_RECONCILE_WINDOW_MS,
    maxBackoffMs: config.PAYMENT_RECONCILE_MAX_BACKOFF_MS,
    onPending: (count, oldestMs) => {
      reconcilePending.set(count)
      reconcileOldest.set(oldestMs / 1000)
    },
  })
  const handlers = createPaymentHandlers({
    gateway,
    decisions,
    reconcile: (entry) => addEntry(reconciliationKv, entry, Date.now()),
    tokens,
    maxPauseMs: config.PAYMENT_MAX_PAUSE_MS,
  })
  // Two lanes, one gate: an open breaker pauses both.
  const standard = await startDurableConsumer(rt, { durable: PAYMENT_CONSUMER, handlers, gate })
  let express
  try {
    express = await startDurableConsumer(rt, { durable: PAYMENT_EXPRESS_CONSUMER, handlers, gate })
  } catch (error) {
    await standard.stop()
    throw error
  }
  const consumer = combineConsumers([standard, express])
  reconciler.start()
  armStartHold()

  const app = createObservabilityApp({
    docsAssets: swaggerUiAssets,
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
      stopped = true
      clearTimeout(probeTimer)
      clearTimeout(reachTimer)
      // The consumers are told to stop first (synchronously), then the gate
      // opens for what waits on it: a stop, not a resumption.
      const stopping = Promise.all([stoppable.stopConsuming(), reconciler.stop()])
      gate.open()
      await stopping
    },
  }
}
