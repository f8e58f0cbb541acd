import type { Context } from 'hono'
import { correlationIdOf } from '../../shared/http/correlation.ts'
import { traceOf } from '../../shared/http/tracing.ts'
import { traceLogFields } from '../../shared/observability/trace-context.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { RefundRequest } from './domain.ts'
import type { GatewayCounters } from './gateway-metrics.ts'
import type { Journal } from './journal.ts'
import type { Ledger } from './ledger.ts'
import { refundFingerprint } from './request-fingerprint.ts'

export interface RefundHandlerDeps {
  ledger: Ledger
  journal: Journal
  logger: Logger
  counters: GatewayCounters
  failureRate: number
  /** true with probability `rate`. */
  roll: (rate: number) => boolean
  now: () => Date
  newRefundId: () => string
}

/**
 * One validated `POST /refunds`: random outage (503, nothing written), then
 * idempotency by key, then the charge's remaining amount. A refund is
 * written to the journal before it is recorded and answered; a refused one
 * (404, 422) is not remembered under its key.
 */
export function createRefundHandler(deps: RefundHandlerDeps) {
  const { ledger, journal, logger, counters, failureRate, roll, now, newRefundId } = deps

  return async function handleRefund(c: Context, key: string, request: RefundRequest): Promise<Response> {
    const log = logger.child({
      chargeId: request.chargeId,
      orderId: ledger.charge(request.chargeId)?.orderId,
      correlationId: correlationIdOf(c.req.header('X-Correlation-ID')),
      idempotencyKey: key,
      ...traceLogFields(traceOf(c)),
    })
    if (roll(failureRate)) {
      log.info({ outcome: 'unavailable', reason: 'failure_rate' }, 'refund')
      counters.refund('unavailable')
      return c.json({ error: 'unavailable' }, 503)
    }
    const decision = ledger.decideRefund(key, await refundFingerprint(request), request, () => ({
      id: newRefundId(),
      created: now().toISOString(),
    }))
    switch (decision.kind) {
      case 'replay':
        log.info({ outcome: 'succeeded', refundId: decision.refund.id, replayed: true }, 'refund')
        counters.refund('replayed')
        return c.json(decision.refund, 201, { 'Idempotent-Replayed': 'true' })
      case 'key_reused':
        log.info({ outcome: 'idempotency_key_reused' }, 'refund')
        counters.refund('idempotency_key_reused')
        return c.json({ error: 'idempotency_key_reused' }, 409)
      case 'charge_not_found':
        log.info({ outcome: 'charge_not_found' }, 'refund')
        counters.refund('charge_not_found')
        return c.json({ error: 'charge_not_found', message: `no charge ${request.chargeId}` }, 404)
      case 'exceeds_charge': {
        const { refundableCents, requestedCents } = decision
        log.info({ outcome: 'refund_exceeds_charge', refundableCents, requestedCents }, 'refund')
        counters.refund('refund_exceeds_charge')
        const message =
          requestedCents === undefined
            ? `charge ${request.chargeId} is fully refunded`
            : `${requestedCents} cents exceed the ${refundableCents} cents still refundable on charge ${request.chargeId}`
        return c.json({ error: 'refund_exceeds_charge', message }, 422)
      }
      case 'refund': {
        journal.append(decision.fact)
        ledger.apply(decision.fact)
        const { refund } = decision.fact
        log.info({ outcome: 'succeeded', refundId: refund.id, amountCents: refund.amountCents }, 'refund')
        counters.refund('succeeded')
        return c.json(refund, 201)
      }
    }
  }
}
