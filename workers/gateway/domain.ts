/**
 * The sandbox processor's rules and its in-memory ledger. Pure: no clock, no
 * randomness, no I/O; the app passes ids and times in.
 */

export interface ChargeRequest {
  amountCents: number
  currency: string
  token: string
  orderId: string
}

export interface Charge {
  id: string
  status: 'succeeded'
  amountCents: number
  currency: string
  orderId: string
  /** ISO 8601 time. */
  created: string
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
} as const

export type DeclineCode = 'card_declined' | 'invalid_token'

/** What happens to one new charge attempt. */
export type Decision =
  | { kind: 'succeed' }
  | { kind: 'decline'; code: DeclineCode }
  | { kind: 'unavailable' }
  /** Succeeds, but only after the slow wait, and only if the client is still there. */
  | { kind: 'succeed_slowly' }

/** A finished attempt, replayed as it was for the same idempotency key. */
export type ChargeResult = { kind: 'succeeded'; charge: Charge } | { kind: 'declined'; code: DeclineCode }

export type Claim =
  | { kind: 'new' }
  | { kind: 'replay'; result: ChargeResult }
  /** The key was used before with a different request. */
  | { kind: 'key_reused' }
  /** The same request under this key is still being decided. */
  | { kind: 'in_progress' }

/**
 * @param flakyAttempt this attempt's number (from 1) among `tok_flaky` attempts for the order
 */
export function decideByToken(token: string, flakyAttempt: number, flakyFailures: number): Decision {
  switch (token) {
    case testTokens.ok:
      return { kind: 'succeed' }
    case testTokens.declined:
      return { kind: 'decline', code: 'card_declined' }
    case testTokens.flaky:
      return flakyAttempt <= flakyFailures ? { kind: 'unavailable' } : { kind: 'succeed' }
    case testTokens.slow:
      return { kind: 'succeed_slowly' }
    default:
      return { kind: 'decline', code: token.startsWith('tok_') ? 'card_declined' : 'invalid_token' }
  }
}

export function isSameRequest(a: ChargeRequest, b: ChargeRequest): boolean {
  return (
    a.amountCents === b.amountCents &&
    a.currency === b.currency &&
    a.token === b.token &&
    a.orderId === b.orderId
  )
}

type Entry = { request: ChargeRequest; result?: ChargeResult }

/**
 * Results by idempotency key. An attempt claims its key, then either settles
 * it (success and decline are remembered) or releases it (a 503 or a client
 * that went away leaves no trace, so a retry with the same key may succeed).
 */
export class ChargeLedger {
  readonly #byKey = new Map<string, Entry>()
  readonly #byId = new Map<string, Charge>()
  readonly #flakyAttempts = new Map<string, number>()
  readonly #flakyFailures: number

  constructor({ flakyFailures }: { flakyFailures: number }) {
    this.#flakyFailures = flakyFailures
  }

  claim(key: string, request: ChargeRequest): Claim {
    const entry = this.#byKey.get(key)
    if (!entry) {
      this.#byKey.set(key, { request })
      return { kind: 'new' }
    }
    if (!isSameRequest(entry.request, request)) return { kind: 'key_reused' }
    return entry.result ? { kind: 'replay', result: entry.result } : { kind: 'in_progress' }
  }

  /** Decides a claimed attempt; counts `tok_flaky` attempts per order. */
  decide(request: ChargeRequest): Decision {
    let attempt = 0
    if (request.token === testTokens.flaky) {
      attempt = (this.#flakyAttempts.get(request.orderId) ?? 0) + 1
      this.#flakyAttempts.set(request.orderId, attempt)
    }
    return decideByToken(request.token, attempt, this.#flakyFailures)
  }

  succeed(key: string, { id, created }: { id: string; created: string }): Charge {
    const entry = this.#pending(key)
    const { amountCents, currency, orderId } = entry.request
    const charge: Charge = { id, status: 'succeeded', amountCents, currency, orderId, created }
    this.#byKey.set(key, { ...entry, result: { kind: 'succeeded', charge } })
    this.#byId.set(id, charge)
    return charge
  }

  decline(key: string, code: DeclineCode): void {
    this.#byKey.set(key, { ...this.#pending(key), result: { kind: 'declined', code } })
  }

  /** Forgets an unsettled claim; a settled key is never released. */
  release(key: string): void {
    if (this.#byKey.get(key)?.result === undefined) this.#byKey.delete(key)
  }

  /** Succeeded charges, oldest first; all of them when `orderId` is undefined. */
  charges(orderId?: string): Charge[] {
    const all = [...this.#byId.values()]
    return orderId === undefined ? all : all.filter((charge) => charge.orderId === orderId)
  }

  charge(id: string): Charge | undefined {
    return this.#byId.get(id)
  }

  #pending(key: string): Entry {
    const entry = this.#byKey.get(key)
    if (!entry || entry.result) throw new Error(`no pending charge attempt for idempotency key ${key}`)
    return entry
  }
}
