/**
 * The sandbox's ledger: charge attempts by idempotency key, charges, refunds.
 * Pure and in memory. Every change that settles something is a fact: built
 * here (`chargeSucceeded`, `chargeDeclined`, `decideRefund`), written to the
 * journal by the caller, then applied (`apply`); starting again replays the
 * journal's facts through `apply`. A request is known by its fingerprint (a
 * digest made by the caller), never by its card token.
 */
import {
  decideByToken,
  refundableCents,
  testTokens,
  toChargeView,
  type Charge,
  type ChargeRequest,
  type ChargeResult,
  type ChargeView,
  type Decision,
  type DeclineCode,
  type Refund,
  type RefundRequest,
} from './domain.ts'
import { rememberRecent } from '../../shared/runtime/remember-recent.ts'

export type ChargeSucceededFact = {
  type: 'charge_succeeded'
  key: string
  fingerprint: string
  charge: Charge
}
export type ChargeDeclinedFact = {
  type: 'charge_declined'
  key: string
  fingerprint: string
  orderId: string
  code: DeclineCode
}
export type RefundFact = { type: 'refund_succeeded'; key: string; fingerprint: string; refund: Refund }
export type LedgerFact = ChargeSucceededFact | ChargeDeclinedFact | RefundFact

export type Claim =
  | { kind: 'new' }
  | { kind: 'replay'; result: ChargeResult }
  /** The key was used before with a different request. */
  | { kind: 'key_reused' }
  /** The same request under this key is still being decided. */
  | { kind: 'in_progress' }

/** `GET /charge-attempts/{key}`. */
export type AttemptStatus =
  | { status: 'succeeded'; charge: ChargeView }
  | { status: 'declined'; code: DeclineCode }
  | { status: 'processing' }

export type RefundDecision =
  | { kind: 'refund'; fact: RefundFact }
  | { kind: 'replay'; refund: Refund }
  | { kind: 'key_reused' }
  | { kind: 'charge_not_found' }
  /** `requestedCents` undefined: the whole remainder was asked for, and none is left. */
  | { kind: 'exceeds_charge'; refundableCents: number; requestedCents: number | undefined }

/** A fact that contradicts the ledger (a journal written by something else, or a bug). */
export class LedgerFactError extends Error {
  override readonly name = 'LedgerFactError'
}

type Settled = { kind: 'succeeded'; chargeId: string } | { kind: 'declined'; code: DeclineCode }
type Attempt = { fingerprint: string; result?: Settled }

/** Orders of the flaky test card whose attempts the sandbox counts at once (the oldest are forgotten). */
export const MAX_FLAKY_ORDERS = 100_000

export class Ledger {
  readonly #attempts = new Map<string, Attempt>()
  readonly #charges = new Map<string, Charge>()
  readonly #refunds = new Map<string, Refund[]>()
  readonly #refundKeys = new Map<string, { fingerprint: string; refund: Refund }>()
  readonly #refundIds = new Set<string>()
  /** Attempts per order of the flaky test card, most recent last. */
  readonly #flakyAttempts = new Map<string, number>()
  readonly #flakyFailures: number

  constructor({ flakyFailures }: { flakyFailures: number }) {
    this.#flakyFailures = flakyFailures
  }

  claim(key: string, fingerprint: string): Claim {
    const attempt = this.#attempts.get(key)
    if (!attempt) {
      this.#attempts.set(key, { fingerprint })
      return { kind: 'new' }
    }
    if (attempt.fingerprint !== fingerprint) return { kind: 'key_reused' }
    return attempt.result ? { kind: 'replay', result: this.#result(attempt.result) } : { kind: 'in_progress' }
  }

  /** Decides a claimed attempt by its token; counts `tok_flaky` attempts per order (in memory only). */
  decide(request: ChargeRequest): Decision {
    let attempt = 0
    if (request.token === testTokens.flaky) {
      attempt = (this.#flakyAttempts.get(request.orderId) ?? 0) + 1
      // The sandbox's memory of flaky cards is bounded: the oldest orders' counts go first.
      rememberRecent(this.#flakyAttempts, request.orderId, attempt, MAX_FLAKY_ORDERS)
    }
    return decideByToken(request.token, attempt, this.#flakyFailures)
  }

  chargeSucceeded(
    key: string,
    request: ChargeRequest,
    stamp: { id: string; created: string },
  ): ChargeSucceededFact {
    const { amountCents, currency, orderId } = request
    const charge: Charge = {
      id: stamp.id,
      status: 'succeeded',
      amountCents,
      currency,
      orderId,
      created: stamp.created,
    }
    return { type: 'charge_succeeded', key, fingerprint: this.#pending(key).fingerprint, charge }
  }

  chargeDeclined(key: string, orderId: string, code: DeclineCode): ChargeDeclinedFact {
    return { type: 'charge_declined', key, fingerprint: this.#pending(key).fingerprint, orderId, code }
  }

  /** Forgets an unsettled claim; a settled key is never released. */
  release(key: string): void {
    if (this.#attempts.get(key)?.result === undefined) this.#attempts.delete(key)
  }

  /** `stamp` is called only when a new refund is made. */
  decideRefund(
    key: string,
    fingerprint: string,
    request: RefundRequest,
    stamp: () => { id: string; created: string },
  ): RefundDecision {
    const known = this.#refundKeys.get(key)
    if (known)
      return known.fingerprint === fingerprint
        ? { kind: 'replay', refund: known.refund }
        : { kind: 'key_reused' }
    const charge = this.#charges.get(request.chargeId)
    if (!charge) return { kind: 'charge_not_found' }
    const refundable = refundableCents(charge, this.#refunds.get(charge.id) ?? [])
    const amountCents = request.amountCents ?? refundable
    if (amountCents > refundable || amountCents < 1) {
      return { kind: 'exceeds_charge', refundableCents: refundable, requestedCents: request.amountCents }
    }
    const { id, created } = stamp()
    const { currency, orderId } = charge
    const refund: Refund = {
      id,
      object: 'refund',
      chargeId: charge.id,
      amountCents,
      currency,
      orderId,
      status: 'succeeded',
      created,
    }
    return { kind: 'refund', fact: { type: 'refund_succeeded', key, fingerprint, refund } }
  }

  /** Records a fact; throws LedgerFactError when it contradicts what is recorded. */
  apply(fact: LedgerFact): void {
    if (fact.type === 'refund_succeeded') return this.#applyRefund(fact)
    const attempt = this.#attempts.get(fact.key)
    if (attempt?.result) throw new LedgerFactError(`idempotency key ${fact.key} is already settled`)
    if (attempt && attempt.fingerprint !== fact.fingerprint) {
      throw new LedgerFactError(`idempotency key ${fact.key} is claimed by another request`)
    }
    let result: Settled
    if (fact.type === 'charge_succeeded') {
      if (this.#charges.has(fact.charge.id))
        throw new LedgerFactError(`charge ${fact.charge.id} exists already`)
      this.#charges.set(fact.charge.id, fact.charge)
      result = { kind: 'succeeded', chargeId: fact.charge.id }
    } else {
      result = { kind: 'declined', code: fact.code }
    }
    this.#attempts.set(fact.key, { fingerprint: fact.fingerprint, result })
  }

  attempt(key: string): AttemptStatus | undefined {
    const attempt = this.#attempts.get(key)
    if (!attempt) return undefined
    if (!attempt.result) return { status: 'processing' }
    const result = this.#result(attempt.result)
    return result.kind === 'succeeded'
      ? { status: 'succeeded', charge: result.charge }
      : { status: 'declined', code: result.code }
  }

  /** Succeeded charges, oldest first; all of them when `orderId` is undefined. */
  charges(orderId?: string): ChargeView[] {
    const all = [...this.#charges.values()]
    return (orderId === undefined ? all : all.filter((c) => c.orderId === orderId)).map((c) => this.#view(c))
  }

  charge(id: string): ChargeView | undefined {
    const charge = this.#charges.get(id)
    return charge && this.#view(charge)
  }

  /** Refunds, oldest first (per charge); all of them when `chargeId` is undefined. */
  refunds(chargeId?: string): Refund[] {
    if (chargeId !== undefined) return [...(this.#refunds.get(chargeId) ?? [])]
    return [...this.#refundKeys.values()].map(({ refund }) => refund)
  }

  #applyRefund({ key, fingerprint, refund }: RefundFact): void {
    if (this.#refundKeys.has(key)) throw new LedgerFactError(`refund idempotency key ${key} is already used`)
    if (this.#refundIds.has(refund.id)) throw new LedgerFactError(`refund ${refund.id} exists already`)
    const charge = this.#charges.get(refund.chargeId)
    if (!charge) throw new LedgerFactError(`refund ${refund.id} is for unknown charge ${refund.chargeId}`)
    const refunds = this.#refunds.get(charge.id) ?? []
    if (refund.amountCents < 1 || refund.amountCents > refundableCents(charge, refunds)) {
      throw new LedgerFactError(`refund ${refund.id} exceeds what remains of charge ${charge.id}`)
    }
    this.#refunds.set(charge.id, [...refunds, refund])
    this.#refundKeys.set(key, { fingerprint, refund })
    this.#refundIds.add(refund.id)
  }

  #result(settled: Settled): ChargeResult {
    if (settled.kind === 'declined') return settled
    const charge = this.#charges.get(settled.chargeId)
    if (!charge) throw new Error(`settled attempt names unknown charge ${settled.chargeId}`)
    return { kind: 'succeeded', charge: this.#view(charge) }
  }

  #view(charge: Charge): ChargeView {
    return toChargeView(charge, this.#refunds.get(charge.id) ?? [])
  }

  #pending(key: string): Attempt {
    const attempt = this.#attempts.get(key)
    if (!attempt || attempt.result) throw new Error(`no pending charge attempt for idempotency key ${key}`)
    return attempt
  }
}
