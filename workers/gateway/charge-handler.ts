import type { Context } from 'hono'
import type { Logger } from '../../shared/observability/logger.ts'
import type { ChargeLedger, ChargeRequest, ChargeResult } from './domain.ts'

export interface ChargeHandlerDeps {
  ledger: ChargeLedger
  logger: Logger
  failureRate: number
  latencyMs: number
  slowMs: number
  random: () => number
  /** Resolves after `ms`; rejects once `signal` aborts. */
  sleep: (ms: number, signal: AbortSignal) => Promise<void>
  now: () => Date
  newChargeId: () => string
  /** Aborts waiting charges when the server shuts down; they answer 503. */
  shutdownSignal: AbortSignal | undefined
}

/**
 * Decides one validated charge attempt: latency, random outage, idempotency,
 * then the token's rule. Logs every outcome with the order id, never the token.
 */
export function createChargeHandler(deps: ChargeHandlerDeps) {
  const { ledger, logger, failureRate, latencyMs, slowMs, random, sleep, now, newChargeId, shutdownSignal } =
    deps

  return async function handleCharge(c: Context, key: string, request: ChargeRequest): Promise<Response> {
    const clientSignal = c.req.raw.signal
    const signal = shutdownSignal ? AbortSignal.any([clientSignal, shutdownSignal]) : clientSignal
    const log = logger.child({ orderId: request.orderId, idempotencyKey: key })

    /** true when the wait ran to its end with the client still there. */
    const wait = async (ms: number): Promise<boolean> => {
      log.debug({ waitMs: ms }, 'charge waiting')
      try {
        await sleep(ms, signal)
      } catch (error) {
        if (!signal.aborted) throw error
      }
      return !signal.aborted
    }
    const interrupted = () => {
      if (clientSignal.aborted) {
        log.info({ outcome: 'abandoned' }, 'charge attempt')
        return new Response(null, { status: 499 })
      }
      log.info({ outcome: 'unavailable', reason: 'shutting_down' }, 'charge attempt')
      return c.json({ error: 'unavailable' }, 503)
    }

    if (latencyMs > 0 && !(await wait(latencyMs))) return interrupted()
    if (random() < failureRate) {
      log.info({ outcome: 'unavailable', reason: 'failure_rate' }, 'charge attempt')
      return c.json({ error: 'unavailable' }, 503)
    }

    const claim = ledger.claim(key, request)
    if (claim.kind === 'key_reused') {
      log.info({ outcome: 'idempotency_key_reused' }, 'charge attempt')
      return c.json({ error: 'idempotency_key_reused' }, 409)
    }
    if (claim.kind === 'in_progress') {
      log.info({ outcome: 'idempotency_key_in_use' }, 'charge attempt')
      return c.json({ error: 'idempotency_key_in_use' }, 409)
    }
    if (claim.kind === 'replay') {
      log.info({ outcome: claim.result.kind, replayed: true }, 'charge attempt')
      return reply(c, claim.result, true)
    }

    try {
      const decision = ledger.decide(request)
      if (decision.kind === 'unavailable') {
        log.info({ outcome: 'unavailable', reason: 'flaky' }, 'charge attempt')
        return c.json({ error: 'unavailable' }, 503)
      }
      if (decision.kind === 'decline') {
        ledger.decline(key, decision.code)
        log.info({ outcome: 'declined', code: decision.code }, 'charge attempt')
        return reply(c, { kind: 'declined', code: decision.code }, false)
      }
      if (decision.kind === 'succeed_slowly' && !(await wait(slowMs))) return interrupted()
      const charge = ledger.succeed(key, { id: newChargeId(), created: now().toISOString() })
      log.info({ outcome: 'succeeded', chargeId: charge.id }, 'charge attempt')
      return reply(c, { kind: 'succeeded', charge }, false)
    } finally {
      // A 503, an interruption or a thrown error leaves no trace; a settled key stays.
      ledger.release(key)
    }
  }
}

function reply(c: Context, result: ChargeResult, replayed: boolean): Response {
  const headers = replayed ? { 'Idempotent-Replayed': 'true' } : undefined
  return result.kind === 'succeeded'
    ? c.json(result.charge, 201, headers)
    : c.json({ error: result.code }, 402, headers)
}
