/**
 * The sandbox processor's rules: what a charge attempt does, by test token
 * and by the configured faults. Pure: no clock, no randomness, no I/O; the
 * app passes ids, times and dice rolls in. The ledger (ledger.ts) keeps what
 * was decided.
 */

export interface ChargeRequest {
  amountCents: number
  currency: string
  token: string
  orderId: string
}

/** A succeeded charge as stored; its refunds are kept apart (see ChargeView). */
export interface Charge {
  id: string
  status: 'succeeded'
  amountCents: number
  currency: string
  orderId: string
  /** ISO 8601 time. */
  created: string
}

export interface RefundRequest {
  chargeId: string
  /** Omitted: whatever remains refundable on the charge. */
  amountCents?: number | undefined
}

export interface Refund {
  id: string
  object: 'refund'
  chargeId: string
  amountCents: number
  currency: string
  orderId: string
  status: 'succeeded'
  /** ISO 8601 time. */
  created: string
}

/** A charge as every route shows it: with its refunds, oldest first. */
export interface ChargeView extends Charge {
  amountRefundedCents: number
  refunds: Refund[]
}

/**
 * Test tokens. Any other token that starts with `tok_` is declined
 * `card_declined`, as a real processor declines an unknown card; a token
 * without the `tok_` prefix is declined `invalid_token`.
 */
export const testTokens = {
  ok: 'tok_ok',
  declined: 'tok_declined',
  flaky: 'tok_flaky',
  slow: 'tok_slow',
  /** Charged, then the connection is cut without an answer. */
  drop: 'tok_drop',
  /** Charged, then answered 500 `internal_error`. */
  errorAfterCharge: 'tok_error_after_charge',
} as const

export type DeclineCode = 'card_declined' | 'invalid_token'

/**
 * How a settled attempt reaches its client: the answer, no answer at all
 * (the connection is cut), or a 500 although the result is written. A retry
 * with the same key always gets the answer.
 */
export type Delivery = 'answer' | 'drop' | 'error'

/** What happens to one new charge attempt. */
export type Decision =
  | { kind: 'unavailable' }
  | { kind: 'succeed'; slow: boolean; delivery: Delivery }
  | { kind: 'decline'; code: DeclineCode; slow: boolean; delivery: Delivery }

/** The chaos settings' dice for one attempt (GATEWAY_*_RATE): true where the fault was drawn. */
export interface Faults {
  slow: boolean
  drop: boolean
  errorAfterCharge: boolean
}

export const noFaults: Faults = { slow: false, drop: false, errorAfterCharge: false }

/** A finished attempt, replayed as it was for the same idempotency key. */
export type ChargeResult = { kind: 'succeeded'; charge: ChargeView } | { kind: 'declined'; code: DeclineCode }

/**
 * @param flakyAttempt this attempt's number (from 1) among `tok_flaky` attempts for the order
 */
export function decideByToken(token: string, flakyAttempt: number, flakyFailures: number): Decision {
  const succeed = (over: Partial<{ slow: boolean; delivery: Delivery }> = {}): Decision => ({
    kind: 'succeed',
    slow: false,
    delivery: 'answer',
    ...over,
  })
  switch (token) {
    case testTokens.ok:
      return succeed()
    case testTokens.declined:
      return { kind: 'decline', code: 'card_declined', slow: false, delivery: 'answer' }
    case testTokens.flaky:
      return flakyAttempt <= flakyFailures ? { kind: 'unavailable' } : succeed()
    case testTokens.slow:
      return succeed({ slow: true })
    case testTokens.drop:
      return succeed({ delivery: 'drop' })
    case testTokens.errorAfterCharge:
      return succeed({ delivery: 'error' })
    default: {
      const code = token.startsWith('tok_') ? 'card_declined' : 'invalid_token'
      return { kind: 'decline', code, slow: false, delivery: 'answer' }
    }
  }
}

/** A decision that settles the attempt (anything but a 503). */
export type Settling = Exclude<Decision, { kind: 'unavailable' }>

/**
 * Adds the drawn faults to a settling decision: any token may be slowed, and
 * any settled attempt (charged or declined) may lose its answer. A token's
 * own delivery wins over a drawn one. (A 503 gets no faults: nothing is written.)
 */
export function withFaults(decision: Settling, faults: Faults): Settling {
  const delivery: Delivery =
    decision.delivery !== 'answer'
      ? decision.delivery
      : faults.drop
        ? 'drop'
        : faults.errorAfterCharge
          ? 'error'
          : 'answer'
  return { ...decision, slow: decision.slow || faults.slow, delivery }
}

/** Cents still refundable on `charge`. */
export function refundableCents(charge: Charge, refunds: readonly Refund[]): number {
  return charge.amountCents - refunds.reduce((sum, refund) => sum + refund.amountCents, 0)
}

export function toChargeView(charge: Charge, refunds: readonly Refund[]): ChargeView {
  return {
    ...charge,
    amountRefundedCents: charge.amountCents - refundableCents(charge, refunds),
    refunds: [...refunds],
  }
}
