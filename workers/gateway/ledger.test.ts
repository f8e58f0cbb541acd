import { describe, expect, it } from 'vitest'
import type { ChargeRequest, Refund } from './domain.ts'
import { Ledger, MAX_FLAKY_ORDERS, LedgerFactError, type LedgerFact } from './ledger.ts'

const request: ChargeRequest = { amountCents: 1000, currency: 'EUR', token: 'tok_ok', orderId: 'o-1' }
const created = '2030-01-01T00:00:00.000Z'
const charge = {
  id: 'ch_1',
  status: 'succeeded',
  amountCents: 1000,
  currency: 'EUR',
  orderId: 'o-1',
  created,
}
const F = 'a'.repeat(64)
const G = 'b'.repeat(64)

function charged(): Ledger {
  const ledger = new Ledger({ flakyFailures: 2 })
  ledger.claim('k', F)
  ledger.apply(ledger.chargeSucceeded('k', request, { id: 'ch_1', created }))
  return ledger
}

let refundIds = 0
const stamp = () => ({ id: `re_${++refundIds}`, created })

/** Decides and applies a refund; the decision when it is not one. */
function refund(ledger: Ledger, key: string, amountCents?: number, fingerprint = F) {
  const decision = ledger.decideRefund(key, fingerprint, { chargeId: 'ch_1', amountCents }, stamp)
  if (decision.kind === 'refund') ledger.apply(decision.fact)
  return decision
}

const refundOf = (id: string, amountCents: number): Refund => ({
  id,
  object: 'refund',
  chargeId: 'ch_1',
  amountCents,
  currency: 'EUR',
  orderId: 'o-1',
  status: 'succeeded',
  created,
})

describe('Ledger charge attempts', () => {
  it('replays a settled key and tells a reused key from one in progress', () => {
    const ledger = new Ledger({ flakyFailures: 2 })
    expect(ledger.claim('k', F)).toStrictEqual({ kind: 'new' })
    expect(ledger.attempt('k')).toStrictEqual({ status: 'processing' })
    expect(ledger.claim('k', F)).toStrictEqual({ kind: 'in_progress' })
    expect(ledger.claim('k', G)).toStrictEqual({ kind: 'key_reused' })
    ledger.apply(ledger.chargeSucceeded('k', request, { id: 'ch_1', created }))
    const view = { ...charge, amountRefundedCents: 0, refunds: [] }
    expect(ledger.claim('k', F)).toStrictEqual({
      kind: 'replay',
      result: { kind: 'succeeded', charge: view },
    })
    expect(ledger.attempt('k')).toStrictEqual({ status: 'succeeded', charge: view })
    expect(ledger.claim('k', G)).toStrictEqual({ kind: 'key_reused' })
  })

  it('forgets a released claim but never a settled one', () => {
    const ledger = new Ledger({ flakyFailures: 2 })
    ledger.claim('released', F)
    ledger.release('released')
    ledger.claim('declined', F)
    ledger.apply(ledger.chargeDeclined('declined', 'o-1', 'card_declined'))
    ledger.release('declined')

    expect(ledger.attempt('released')).toBeUndefined()
    expect(ledger.claim('released', F)).toStrictEqual({ kind: 'new' })
    expect(ledger.attempt('declined')).toStrictEqual({ status: 'declined', code: 'card_declined' })
  })

  it('counts tok_flaky attempts per order, across keys', () => {
    const ledger = new Ledger({ flakyFailures: 1 })
    const flaky = { ...request, token: 'tok_flaky' }
    expect(ledger.decide(flaky).kind).toBe('unavailable')
    expect(ledger.decide({ ...flaky, orderId: 'o-2' }).kind).toBe('unavailable')
    expect(ledger.decide(flaky).kind).toBe('succeed')
  })

  it('forgets the flaky counts of the oldest orders beyond MAX_FLAKY_ORDERS, not of the recent ones', () => {
    const ledger = new Ledger({ flakyFailures: 1 })
    const flaky = { ...request, token: 'tok_flaky' }
    expect(ledger.decide({ ...flaky, orderId: 'first' }).kind).toBe('unavailable')
    for (let i = 0; i < MAX_FLAKY_ORDERS; i++) ledger.decide({ ...flaky, orderId: `o-${i}` })
    // The first order's count is gone: its card fails once more; a recent one's is kept.
    expect(ledger.decide({ ...flaky, orderId: 'first' }).kind).toBe('unavailable')
    expect(ledger.decide({ ...flaky, orderId: `o-${MAX_FLAKY_ORDERS - 1}` }).kind).toBe('succeed')
  })

  it('throws when asked to settle a key nobody claimed', () => {
    const ledger = new Ledger({ flakyFailures: 2 })
    expect(() => ledger.chargeSucceeded('nobody', request, { id: 'ch_1', created })).toThrow(
      'no pending charge attempt for idempotency key nobody',
    )
  })
})

describe('Ledger refunds', () => {
  it('adds partial refunds up and shows them on the charge, oldest first', () => {
    const ledger = charged()
    refund(ledger, 'r-1', 300)
    refund(ledger, 'r-2', 200)
    const first = ledger.refunds('ch_1')[0]
    const second = ledger.refunds('ch_1')[1]

    expect(ledger.charge('ch_1')).toMatchObject({ amountRefundedCents: 500, refunds: [first, second] })
    expect([first?.amountCents, second?.amountCents]).toStrictEqual([300, 200])
    expect(refund(ledger, 'r-3', 501)).toStrictEqual({
      kind: 'exceeds_charge',
      refundableCents: 500,
      requestedCents: 501,
    })
  })

  it('refunds whatever remains when the amount is omitted, then nothing more', () => {
    const ledger = charged()
    refund(ledger, 'r-1', 400)
    const rest = refund(ledger, 'r-2')

    expect(rest).toMatchObject({ kind: 'refund', fact: { refund: { amountCents: 600 } } })
    expect(refund(ledger, 'r-3')).toStrictEqual({
      kind: 'exceeds_charge',
      refundableCents: 0,
      requestedCents: undefined,
    })
    expect(ledger.charge('ch_1')?.amountRefundedCents).toBe(1000)
  })

  it('replays a key with the same request, refuses it with another, and answers an unknown charge', () => {
    const ledger = charged()
    refund(ledger, 'r-1', 100)
    const [made] = ledger.refunds('ch_1')
    const again = refund(ledger, 'r-1', 100)
    const other = refund(ledger, 'r-1', 100, G)
    const unknown = ledger.decideRefund('r-2', F, { chargeId: 'ch_404' }, stamp)

    expect(made?.amountCents).toBe(100)
    expect(again).toStrictEqual({ kind: 'replay', refund: made })
    expect(other).toStrictEqual({ kind: 'key_reused' })
    expect(unknown).toStrictEqual({ kind: 'charge_not_found' })
    expect(ledger.refunds()).toHaveLength(1)
  })
})

describe('Ledger.apply (replaying a journal)', () => {
  const succeeded: LedgerFact = {
    type: 'charge_succeeded',
    key: 'k',
    fingerprint: F,
    charge: { ...charge, status: 'succeeded' },
  }
  const refunded = (id: string, amountCents: number, key = id): LedgerFact => ({
    type: 'refund_succeeded',
    key,
    fingerprint: F,
    refund: refundOf(id, amountCents),
  })

  it('rebuilds charges, refunds and keys from facts alone', () => {
    const ledger = new Ledger({ flakyFailures: 2 })
    ledger.apply(succeeded)
    ledger.apply({
      type: 'charge_declined',
      key: 'k2',
      fingerprint: G,
      orderId: 'o-2',
      code: 'invalid_token',
    })
    ledger.apply(refunded('re_a', 250))

    expect(ledger.claim('k', F)).toMatchObject({
      kind: 'replay',
      result: { charge: { amountRefundedCents: 250 } },
    })
    expect(ledger.attempt('k2')).toStrictEqual({ status: 'declined', code: 'invalid_token' })
    expect(ledger.decideRefund('re_a', F, { chargeId: 'ch_1', amountCents: 250 }, stamp)).toStrictEqual({
      kind: 'replay',
      refund: refundOf('re_a', 250),
    })
  })

  it.each([
    [
      'a settled key settled again',
      [succeeded, { ...succeeded, charge: { ...charge, id: 'ch_2', status: 'succeeded' } }],
      'idempotency key k is already settled',
    ],
    ['a charge id twice', [succeeded, { ...succeeded, key: 'k2' }], 'charge ch_1 exists already'],
    ['a refund of an unknown charge', [refunded('re_a', 1)], 'refund re_a is for unknown charge ch_1'],
    [
      'a refund over the charge',
      [succeeded, refunded('re_a', 600), refunded('re_b', 401)],
      'refund re_b exceeds what remains of charge ch_1',
    ],
    [
      'a refund key twice',
      [succeeded, refunded('re_a', 1), refunded('re_b', 1, 're_a')],
      'refund idempotency key re_a is already used',
    ],
  ] as [string, LedgerFact[], string][])('refuses %s', (_name, facts, message) => {
    let thrown: unknown
    try {
      const ledger = new Ledger({ flakyFailures: 2 })
      facts.forEach((fact) => ledger.apply(fact))
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(LedgerFactError)
    expect((thrown as Error).message).toBe(message)
  })
})
