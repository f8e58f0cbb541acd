import type { Metrics } from '../../shared/observability/metrics.ts'
import { Counter } from '../../shared/observability/prom.ts'

/** Every outcome of a charge attempt: the label's only values. */
export const CHARGE_OUTCOMES = [
  'succeeded',
  'declined',
  'replayed',
  'unavailable',
  'idempotency_key_reused',
  'idempotency_key_in_use',
  'abandoned',
  'interrupted',
  'failed',
] as const
export type ChargeOutcome = (typeof CHARGE_OUTCOMES)[number]

/** Every outcome of a refund request: the label's only values. */
export const REFUND_OUTCOMES = [
  'succeeded',
  'replayed',
  'idempotency_key_reused',
  'charge_not_found',
  'refund_exceeds_charge',
  'unavailable',
] as const
export type RefundOutcome = (typeof REFUND_OUTCOMES)[number]

export interface GatewayCounters {
  charge(outcome: ChargeOutcome): void
  refund(outcome: RefundOutcome): void
}

/**
 * `gateway_charge_attempts_total{outcome}` and `gateway_refunds_total{outcome}`
 * on the service's registry, every series present from the start at 0.
 */
export function createGatewayCounters(metrics: Pick<Metrics, 'registry'>): GatewayCounters {
  const registers = [metrics.registry]
  const charges = new Counter({
    name: 'gateway_charge_attempts_total',
    help: `Charge attempts by outcome (${CHARGE_OUTCOMES.join(', ')})`,
    labelNames: ['outcome'],
    registers,
  })
  const refunds = new Counter({
    name: 'gateway_refunds_total',
    help: `Refund requests by outcome (${REFUND_OUTCOMES.join(', ')})`,
    labelNames: ['outcome'],
    registers,
  })
  for (const outcome of CHARGE_OUTCOMES) charges.inc({ outcome }, 0)
  for (const outcome of REFUND_OUTCOMES) refunds.inc({ outcome }, 0)
  return {
    charge: (outcome) => charges.inc({ outcome }),
    refund: (outcome) => refunds.inc({ outcome }),
  }
}
