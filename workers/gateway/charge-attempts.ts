import type { Logger } from '../../shared/observability/logger.ts'
import {
  toChargeView,
  withFaults,
  type ChargeRequest,
  type ChargeResult,
  type Delivery,
  type Faults,
} from './domain.ts'
import type { GatewayCounters } from './gateway-metrics.ts'
import type { Journal } from './journal.ts'
import type { Ledger } from './ledger.ts'

/** How a charge attempt ended, for the request that started it (if it is still there). */
export type AttemptEnd =
  | { kind: 'settled'; result: ChargeResult; delivery: Delivery }
  /** `tok_flaky`: 503, nothing written. */
  | { kind: 'unavailable' }
  /** Shut down during the slow wait: nothing written. */
  | { kind: 'interrupted' }
  /** An error, logged here; nothing written. */
  | { kind: 'failed' }

export interface AttemptDeps {
  ledger: Ledger
  journal: Journal
  counters: GatewayCounters
  slowMs: number
  /** The chaos dice for one attempt. */
  drawFaults: () => Faults
  sleep: (ms: number, signal: AbortSignal) => Promise<void>
  now: () => Date
  newChargeId: () => string
  /** Aborts slow waits: those attempts end `interrupted`, unwritten. */
  shutdownSignal: AbortSignal | undefined
}

/**
 * Runs claimed charge attempts apart from their HTTP requests: once started,
 * an attempt decides, waits if slow, and writes its result (journal, then
 * ledger) whether or not its client is still there. Only a shutdown cuts a
 * slow wait short. The returned promise never rejects; a key that did not
 * settle is released, so a retry with it starts afresh.
 */
export function createAttemptRunner(deps: AttemptDeps) {
  const { ledger, journal, counters, slowMs, drawFaults, sleep, now, newChargeId } = deps
  const shutdownSignal = deps.shutdownSignal ?? new AbortController().signal

  async function run(key: string, request: ChargeRequest, log: Logger): Promise<AttemptEnd> {
    const decision = ledger.decide(request)
    if (decision.kind === 'unavailable') {
      log.info({ outcome: 'unavailable', reason: 'flaky' }, 'charge attempt')
      counters.charge('unavailable')
      return { kind: 'unavailable' }
    }
    const { slow, delivery } = withFaults(decision, drawFaults())
    if (slow) {
      log.debug({ waitMs: slowMs }, 'charge waiting')
      try {
        await sleep(slowMs, shutdownSignal)
      } catch (error) {
        if (!shutdownSignal.aborted) throw error
        log.info({ outcome: 'interrupted', reason: 'shutting_down' }, 'charge attempt')
        counters.charge('interrupted')
        return { kind: 'interrupted' }
      }
    }
    const fact =
      decision.kind === 'succeed'
        ? ledger.chargeSucceeded(key, request, { id: newChargeId(), created: now().toISOString() })
        : ledger.chargeDeclined(key, request.orderId, decision.code)
    journal.append(fact)
    ledger.apply(fact)
    const fault = delivery === 'answer' ? {} : { delivery }
    if (fact.type === 'charge_succeeded') {
      log.info({ outcome: 'succeeded', chargeId: fact.charge.id, ...fault }, 'charge attempt')
      counters.charge('succeeded')
      return {
        kind: 'settled',
        result: { kind: 'succeeded', charge: toChargeView(fact.charge, []) },
        delivery,
      }
    }
    log.info({ outcome: 'declined', code: fact.code, ...fault }, 'charge attempt')
    counters.charge('declined')
    return { kind: 'settled', result: { kind: 'declined', code: fact.code }, delivery }
  }

  return async function startAttempt(key: string, request: ChargeRequest, log: Logger): Promise<AttemptEnd> {
    try {
      return await run(key, request, log)
    } catch (error) {
      log.error({ err: error }, 'charge attempt failed')
      counters.charge('failed')
      return { kind: 'failed' }
    } finally {
      ledger.release(key)
    }
  }
}
