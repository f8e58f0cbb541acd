import type { Context } from 'hono'
import { correlationIdOf } from '../../shared/http/correlation.ts'
import { traceOf } from '../../shared/http/tracing.ts'
import { traceLogFields } from '../../shared/observability/trace-context.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { AttemptEnd } from './charge-attempts.ts'
import type { ChargeRequest, ChargeResult } from './domain.ts'
import { dropConnection } from './drop-connection.ts'
import type { GatewayCounters } from './gateway-metrics.ts'
import type { Ledger } from './ledger.ts'
import { chargeFingerprint } from './request-fingerprint.ts'

export interface ChargeHandlerDeps {
  ledger: Ledger
  logger: Logger
  counters: GatewayCounters
  failureRate: number
  latencyMs: number
  /** true with probability `rate`. */
  roll: (rate: number) => boolean
  /** Resolves after `ms`; rejects once `signal` aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>
  /** Starts a claimed attempt apart from the request (charge-attempts.ts). */
  startAttempt: (key: string, request: ChargeRequest, log: Logger) => Promise<AttemptEnd>
  /** Aborts the latency wait when the server shuts down: 503. */
  shutdownSignal: AbortSignal | undefined
}

/**
 * One validated `POST /charges`: latency, random outage, idempotency, then
 * the attempt, which goes on without the request once claimed. Logs every
 * outcome with the order id and correlation id, never the token.
 */
export function createChargeHandler(deps: ChargeHandlerDeps) {
  const { ledger, logger, counters, failureRate, latencyMs, roll, sleep, startAttempt, shutdownSignal } = deps

  return async function handleCharge(c: Context, key: string, request: ChargeRequest): Promise<Response> {
    const clientSignal = c.req.raw.signal
    // The caller's correlation id (the payment worker sends the order's), so
    // every line about the order can be found with the rest of its saga.
    const correlationId = correlationIdOf(c.req.header('X-Correlation-ID'))
    const log = logger.child({
      orderId: request.orderId,
      correlationId,
      idempotencyKey: key,
      ...traceLogFields(traceOf(c)),
    })

    if (latencyMs > 0) {
      // Nothing is claimed yet: a client that leaves, or a shutdown, ends the request here.
      const signal = shutdownSignal ? AbortSignal.any([clientSignal, shutdownSignal]) : clientSignal
      try {
        await sleep(latencyMs, signal)
      } catch (error) {
        if (!signal.aborted) throw error
        if (clientSignal.aborted) {
          log.info({ outcome: 'abandoned' }, 'charge attempt')
          counters.charge('abandoned')
          return new Response(null, { status: 499 })
        }
        log.info({ outcome: 'interrupted', reason: 'shutting_down' }, 'charge attempt')
        counters.charge('interrupted')
        return c.json({ error: 'unavailable' }, 503)
      }
    }
    if (roll(failureRate)) {
      log.info({ outcome: 'unavailable', reason: 'failure_rate' }, 'charge attempt')
      counters.charge('unavailable')
      return c.json({ error: 'unavailable' }, 503)
    }

    const claim = ledger.claim(key, await chargeFingerprint(request))
    if (claim.kind === 'key_reused' || claim.kind === 'in_progress') {
      const error = claim.kind === 'key_reused' ? 'idempotency_key_reused' : 'idempotency_key_in_use'
      log.info({ outcome: error }, 'charge attempt')
      counters.charge(error)
      return c.json({ error }, 409)
    }
    if (claim.kind === 'replay') {
      log.info({ outcome: claim.result.kind, replayed: true }, 'charge attempt')
      counters.charge('replayed')
      return reply(c, claim.result, true)
    }

    const end = await untilGone(startAttempt(key, request, log), clientSignal)
    if (end === undefined) {
      log.info('charge client went away; the attempt goes on')
      return new Response(null, { status: 499 })
    }
    switch (end.kind) {
      case 'unavailable':
      case 'interrupted':
        return c.json({ error: 'unavailable' }, 503)
      case 'failed':
        return c.json({ error: 'internal', message: 'internal error' }, 500)
      case 'settled':
        if (end.delivery === 'drop') return dropConnection(c.req.raw)
        if (end.delivery === 'error') return c.json({ error: 'internal_error' }, 500)
        return reply(c, end.result, false)
    }
  }
}

/** The attempt's end, or undefined as soon as the client goes away (the attempt goes on). */
function untilGone(attempt: Promise<AttemptEnd>, clientSignal: AbortSignal): Promise<AttemptEnd | undefined> {
  if (clientSignal.aborted) return Promise.resolve(undefined)
  return new Promise((resolve) => {
    const onAbort = () => resolve(undefined)
    clientSignal.addEventListener('abort', onAbort, { once: true })
    void attempt.then((end) => {
      clientSignal.removeEventListener('abort', onAbort)
      resolve(end)
    })
  })
}

export function reply(c: Context, result: ChargeResult, replayed: boolean): Response {
  const headers = replayed ? { 'Idempotent-Replayed': 'true' } : undefined
  return result.kind === 'succeeded'
    ? c.json(result.charge, 201, headers)
    : c.json({ error: result.code }, 402, headers)
}
