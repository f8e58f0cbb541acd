import { describe, expect, it } from 'vitest'
import { ChargeLedger, decideByToken, type ChargeRequest, type Decision } from './domain.ts'

describe('decideByToken', () => {
  const cases: [token: string, flakyAttempt: number, expected: Decision][] = [
    ['tok_ok', 0, { kind: 'succeed' }],
    ['tok_declined', 0, { kind: 'decline', code: 'card_declined' }],
    ['tok_flaky', 1, { kind: 'unavailable' }],
    ['tok_flaky', 2, { kind: 'unavailable' }],
    ['tok_flaky', 3, { kind: 'succeed' }],
    ['tok_slow', 0, { kind: 'succeed_slowly' }],
    ['tok_mastercard', 0, { kind: 'decline', code: 'card_declined' }],
    ['pm_card_visa', 0, { kind: 'decline', code: 'invalid_token' }],
  ]
  it.each(cases)('decides %s (flaky attempt %i) with 2 flaky failures', (token, attempt, expected) => {
    expect(decideByToken(token, attempt, 2)).toStrictEqual(expected)
  })
})

describe('ChargeLedger', () => {
  const request: ChargeRequest = { amountCents: 100, currency: 'EUR', token: 'tok_ok', orderId: 'o-1' }
  const stamp = { id: 'ch_1', created: '2030-01-01T00:00:00.000Z' }
  const charge = { ...stamp, status: 'succeeded', amountCents: 100, currency: 'EUR', orderId: 'o-1' }

  it('replays a settled key and tells a reused key from one in progress', () => {
    const ledger = new ChargeLedger({ flakyFailures: 2 })
    expect(ledger.claim('k', request)).toStrictEqual({ kind: 'new' })
    expect(ledger.claim('k', request)).toStrictEqual({ kind: 'in_progress' })
    expect(ledger.claim('k', { ...request, currency: 'USD' })).toStrictEqual({ kind: 'key_reused' })
    ledger.succeed('k', stamp)
    expect(ledger.claim('k', request)).toStrictEqual({
      kind: 'replay',
      result: { kind: 'succeeded', charge },
    })
    expect(ledger.claim('k', { ...request, orderId: 'o-2' })).toStrictEqual({ kind: 'key_reused' })
  })

  it('forgets a released claim but never a settled one', () => {
    const ledger = new ChargeLedger({ flakyFailures: 2 })
    ledger.claim('released', request)
    ledger.release('released')
    ledger.claim('declined', request)
    ledger.decline('declined', 'card_declined')
    ledger.release('declined')

    expect(ledger.claim('released', request)).toStrictEqual({ kind: 'new' })
    expect(ledger.claim('declined', request)).toStrictEqual({
      kind: 'replay',
      result: { kind: 'declined', code: 'card_declined' },
    })
  })

  it('counts tok_flaky attempts per order, across keys', () => {
    const ledger = new ChargeLedger({ flakyFailures: 1 })
    const flaky = { ...request, token: 'tok_flaky' }
    expect(ledger.decide(flaky).kind).toBe('unavailable')
    expect(ledger.decide({ ...flaky, orderId: 'o-2' }).kind).toBe('unavailable')
    expect(ledger.decide(flaky).kind).toBe('succeed')
  })

  it('throws when asked to settle a key nobody claimed', () => {
    const ledger = new ChargeLedger({ flakyFailures: 2 })
    expect(() => ledger.succeed('nobody', stamp)).toThrow(
      'no pending charge attempt for idempotency key nobody',
    )
  })
})
