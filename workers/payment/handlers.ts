import type { EventOf } from '../../schemas/events.ts'
import { SUBJECTS } from '../../schemas/subjects.ts'
import type { Handlers, MessageContext } from '../../shared/nats/consumer.ts'
import { toEvent, type OutgoingEvent } from '../../shared/nats/publish.ts'
import { GatewayUnavailableError, type GatewayClient } from './gateway-client.ts'

export function createPaymentHandlers({ gateway, now = () => new Date() }: { gateway: Pick<GatewayClient, 'charge'>; now?: () => Date }): Handlers {
  async function pay(event: EventOf<typeof SUBJECTS.inventoryReserved>, ctx: MessageContext): Promise<readonly OutgoingEvent[]> {
    const base = { version: 1 as const, orderId: event.orderId, occurredAt: now().toISOString() }
    if (event.amountCents === 0) {
      ctx.logger.info('nothing to charge')
      return [toEvent(SUBJECTS.paymentCompleted, { ...base, chargeId: 'none', amountCents: 0, currency: event.currency })]
    }
    try {
      const outcome = await gateway.charge({
        orderId: event.orderId,
        amountCents: event.amountCents,
        currency: event.currency,
        token: event.paymentToken,
      })
      if (outcome.kind === 'succeeded') {
        ctx.logger.info({ chargeId: outcome.chargeId, amountCents: event.amountCents }, 'payment completed')
        return [
          toEvent(SUBJECTS.paymentCompleted, { ...base, chargeId: outcome.chargeId, amountCents: event.amountCents, currency: event.currency }),
        ]
      }
      ctx.logger.info({ code: outcome.code }, 'payment declined')
      return [toEvent(SUBJECTS.paymentFailed, { ...base, reason: 'declined', message: outcome.code })]
    } catch (error) {
      if (!(error instanceof GatewayUnavailableError)) throw error
      ctx.logger.warn({ err: error }, 'payment gateway unavailable; failing the payment')
      return [toEvent(SUBJECTS.paymentFailed, { ...base, reason: 'gateway_unavailable', message: error.message })]
    }
  }
  return { [SUBJECTS.inventoryReserved]: pay }
}
