import type { EventOf } from '../../schemas/events.ts'
import { SUBJECTS } from '../../schemas/subjects.ts'
import { PauseConsumption, type Handlers, type MessageContext } from '../../shared/nats/consumer.ts'
import { toEvent, type OutgoingEvent } from '../../shared/nats/publish.ts'
import {
  SealedTokenError,
  UnknownSealingKeyError,
  type TokenOpener,
} from '../../shared/security/sealed-token.ts'
import { CircuitOpenError, GatewayUnavailableError, type GatewayClient } from './gateway-client.ts'

export interface PaymentHandlerDeps {
  gateway: Pick<GatewayClient, 'charge'>
  /** Opens the sealed card token of an order (only this service holds the key). */
  tokens: TokenOpener
  /** How long one order may wait for an open breaker before its payment fails. */
  maxPauseMs: number
  now?: () => Date
}

export function createPaymentHandlers({
  gateway,
  tokens,
  maxPauseMs,
  now = () => new Date(),
}: PaymentHandlerDeps): Handlers {
  /** Orders held back by an open breaker, with when that began. */
  const pausedSince = new Map<string, number>()

  async function pay(
    event: EventOf<typeof SUBJECTS.inventoryReserved>,
    ctx: MessageContext,
  ): Promise<readonly OutgoingEvent[]> {
    const base = { version: 1 as const, orderId: event.orderId, occurredAt: now().toISOString() }
    const failed = (reason: 'declined' | 'gateway_unavailable', message: string) => [
      toEvent(SUBJECTS.paymentFailed, { ...base, reason, message }),
    ]
    if (event.amountCents === 0) {
      ctx.logger.info('nothing to charge')
      return [
        toEvent(SUBJECTS.paymentCompleted, {
          ...base,
          chargeId: 'none',
          amountCents: 0,
          currency: event.currency,
        }),
      ]
    }
    let token: string
    try {
      token = await tokens.open(event.sealedPaymentToken, event.orderId)
    } catch (error) {
      // A key this service does not hold is a configuration fault (a rotation
      // done in the wrong order): retried, then dead-lettered for a replay once
      // the key is in place. A token that does not open under a key it holds
      // was sealed for another order or altered: the card is refused.
      if (!(error instanceof SealedTokenError) || error instanceof UnknownSealingKeyError) throw error
      ctx.logger.warn({ err: error }, 'sealed payment token does not open; declining')
      return failed('declined', 'invalid_payment_token')
    }
    try {
      const outcome = await gateway.charge({
        orderId: event.orderId,
        amountCents: event.amountCents,
        currency: event.currency,
        token,
      })
      pausedSince.delete(event.orderId)
      if (outcome.kind === 'succeeded') {
        ctx.logger.info({ chargeId: outcome.chargeId, amountCents: event.amountCents }, 'payment completed')
        return [
          toEvent(SUBJECTS.paymentCompleted, {
            ...base,
            chargeId: outcome.chargeId,
            amountCents: event.amountCents,
            currency: event.currency,
          }),
        ]
      }
      ctx.logger.info({ code: outcome.code }, 'payment declined')
      return failed('declined', outcome.code)
    } catch (error) {
      if (error instanceof CircuitOpenError) {
        const since = pausedSince.get(event.orderId) ?? Date.now()
        pausedSince.set(event.orderId, since)
        if (Date.now() - since < maxPauseMs) throw new PauseConsumption(error.message)
        pausedSince.delete(event.orderId)
        ctx.logger.warn(
          { waitedMs: Date.now() - since },
          'gateway down for longer than the pause budget; failing the payment',
        )
        return failed('gateway_unavailable', error.message)
      }
      if (!(error instanceof GatewayUnavailableError)) throw error
      pausedSince.delete(event.orderId)
      ctx.logger.warn({ err: error }, 'payment gateway unavailable after retries; failing the payment')
      return failed('gateway_unavailable', error.message)
    }
  }
  return { [SUBJECTS.inventoryReserved]: pay }
}
