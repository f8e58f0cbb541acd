import { beforeAll, describe, expect, it } from 'vitest'
import { SUBJECTS } from '../../schemas/subjects.ts'
import { PauseConsumption, type Handler, type MessageContext } from '../../shared/nats/consumer.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { CircuitOpenError, GatewayUnavailableError, type ChargeOutcome } from './gateway-client.ts'
import { createPaymentHandlers } from './handlers.ts'
import {
  createTokenOpener,
  createTokenSealer,
  generateSealingKeyPair,
  type TokenOpener,
} from '../../shared/security/sealed-token.ts'

const at = new Date('2026-01-01T00:00:00.000Z')
const orderId = '0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f'
const reserved = {
  version: 1 as const,
  orderId,
  occurredAt: at.toISOString(),
  items: [{ sku: 'A', quantity: 2, unitPriceCents: 500 }],
  amountCents: 1000,
  currency: 'USD',
  sealedPaymentToken: '',
}
let tokens: TokenOpener
beforeAll(async () => {
  const keys = await generateSealingKeyPair()
  tokens = await createTokenOpener([keys.privateJwk])
  reserved.sealedPaymentToken = await (await createTokenSealer(keys.publicJwk)).seal('tok_ok', orderId)
})
const ctx: MessageContext = {
  correlationId: 'c',
  deliveryCount: 1,
  logger: createLogger({ service: 't', level: 'silent' }),
}

function handlerWith(
  charge: (request: { token: string }) => Promise<ChargeOutcome>,
  maxPauseMs = 60_000,
  opener: TokenOpener = tokens,
) {
  const handlers = createPaymentHandlers({ gateway: { charge }, tokens: opener, maxPauseMs, now: () => at })
  return handlers[SUBJECTS.inventoryReserved] as Handler<typeof SUBJECTS.inventoryReserved>
}

describe('payment handler', () => {
  it('publishes payments.completed with the charge id', async () => {
    const events = await handlerWith(() => Promise.resolve({ kind: 'succeeded', chargeId: 'ch_1' }))(
      reserved,
      ctx,
    )
    expect(events).toStrictEqual([
      {
        subject: SUBJECTS.paymentCompleted,
        msgId: `${SUBJECTS.paymentCompleted}:${reserved.orderId}`,
        payload: {
          version: 1,
          orderId: reserved.orderId,
          occurredAt: at.toISOString(),
          chargeId: 'ch_1',
          amountCents: 1000,
          currency: 'USD',
        },
      },
    ])
  })

  it.each([
    [
      'a decline',
      () => Promise.resolve<ChargeOutcome>({ kind: 'declined', code: 'card_declined' }),
      'declined',
    ],
    [
      'an exhausted retry budget',
      () => Promise.reject(new GatewayUnavailableError('down')),
      'gateway_unavailable',
    ],
  ])('publishes payments.failed after %s', async (_name, charge, reason) => {
    const events = await handlerWith(charge)(reserved, ctx)
    expect(events.map((e) => [e.subject, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.paymentFailed, reason],
    ])
  })

  it('holds the message while the breaker is open, then fails it past the pause budget', async () => {
    const open = () => Promise.reject(new CircuitOpenError('open'))
    await expect(handlerWith(open)(reserved, ctx)).rejects.toBeInstanceOf(PauseConsumption)
    const impatient = handlerWith(open, 0)
    const events = await impatient(reserved, ctx)
    expect(events.map((e) => e.subject)).toStrictEqual([SUBJECTS.paymentFailed])
  })

  it('charges the token opened from the sealed one, never the sealed text', async () => {
    const seen: string[] = []
    await handlerWith((request) => {
      seen.push(request.token)
      return Promise.resolve({ kind: 'succeeded', chargeId: 'ch_1' })
    })(reserved, ctx)
    expect(seen).toStrictEqual(['tok_ok'])
  })

  it('declines a token sealed for another order without calling the gateway', async () => {
    let calls = 0
    const charge = () => {
      calls++
      return Promise.resolve<ChargeOutcome>({ kind: 'succeeded', chargeId: 'ch_1' })
    }
    const moved = { ...reserved, orderId: '0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e70' }
    const events = await handlerWith(charge)(moved, ctx)
    expect(events.map((e) => [e.subject, (e.payload as { message?: string }).message])).toStrictEqual([
      [SUBJECTS.paymentFailed, 'invalid_payment_token'],
    ])
    expect(calls).toBe(0)
  })

  it('retries (throws) when the token was sealed for a key this service does not hold', async () => {
    const stranger = await createTokenOpener([(await generateSealingKeyPair()).privateJwk])
    const charge = () => Promise.resolve<ChargeOutcome>({ kind: 'succeeded', chargeId: 'ch_1' })
    await expect(handlerWith(charge, 60_000, stranger)(reserved, ctx)).rejects.toThrow(/no private key/)
  })

  it('lets an unexpected error through for a nak', async () => {
    await expect(handlerWith(() => Promise.reject(new Error('bug')))(reserved, ctx)).rejects.toThrow('bug')
  })
})
