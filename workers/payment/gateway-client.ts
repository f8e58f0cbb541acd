import { HEADERS } from '../../schemas/subjects.ts'
import { VISIBLE_ASCII } from '../../shared/http/correlation.ts'
import { laneYield } from '../../shared/nats/lane-yield.ts'
import { writeTraceHeaders, type TraceContext } from '../../shared/observability/trace-context.ts'
import {
  BrokenCircuitError,
  createCallPolicy,
  type ResilienceOptions,
} from '../../shared/resilience/policies.ts'

export interface ChargeRequest {
  orderId: string
  amountCents: number
  currency: string
  token: string
}

/** What the processor says about a charge attempt. */
export type ChargeOutcome =
  | { kind: 'succeeded'; chargeId: string }
  | { kind: 'declined'; code: string }
  /**
   * No answer within the settle budget (timeouts, dropped connections, 5xx):
   * the charge may or may not exist. Never read as a failure of the card.
   * `notSent`: no attempt was sent at all (the deadline passed first).
   */
  | { kind: 'unresolved'; detail: string; notSent?: true }

/** What a look-up by idempotency key finds. */
export type AttemptLookup =
  | { kind: 'succeeded'; chargeId: string }
  | { kind: 'declined'; code: string }
  | { kind: 'processing' }
  | { kind: 'not_found' }

export interface Refund {
  refundId: string
  amountCents: number
}

/** The circuit breaker is open: the processor is known to be down, no call was made. */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError'
}

/** The processor could not be reached (or kept failing) within the retry budget. */
export class GatewayUnavailableError extends Error {
  override readonly name = 'GatewayUnavailableError'
}

/** A 5xx or 429: worth retrying with the same idempotency key. */
export class TransientGatewayError extends Error {
  override readonly name = 'TransientGatewayError'
  constructor(readonly status: number) {
    super(`gateway answered ${status}`)
  }
}

/** The order was decided elsewhere (its deadline) between two attempts: no new attempt is sent. */
class ChargeNoLongerWanted extends Error {
  override readonly name = 'ChargeNoLongerWanted'
}

/** An answer that retrying cannot fix (a wrong key, a 4xx): a bug on one side. */
export class GatewayProtocolError extends Error {
  override readonly name = 'GatewayProtocolError'
}

/** The processor answered 401 or 403: it does not take this secret key. */
export class GatewayKeyRefusedError extends GatewayProtocolError {
  constructor(readonly status: number) {
    super(`gateway refused the secret key (${status}): check GATEWAY_SECRET_KEY`)
  }
}

/** The processor refused a refund (nothing left to refund, unknown charge). */
export class RefundRefusedError extends Error {
  override readonly name = 'RefundRefusedError'
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

function isTransient(error: Error): boolean {
  // fetch rejects with a TypeError when the connection is refused, reset or
  // dropped, and with a TimeoutError when a call's own deadline (the probe's)
  // passes: a processor that does not answer.
  return error instanceof TransientGatewayError || error instanceof TypeError || error.name === 'TimeoutError'
}

export interface GatewayClientOptions extends Omit<ResilienceOptions, 'isTransient'> {
  baseUrl: string
  /** Sent as `Authorization: Bearer <secretKey>` on every call; never logged. */
  secretKey: string
  /**
   * How long one charge is worked on before it is left `unresolved`: rounds of
   * retries under the same idempotency key while the processor does not
   * answer, and polls while it says the charge is still being processed.
   */
  settleBudgetMs: number
  /** Pause between polls of a charge the processor is still processing. */
  settlePollMs: number
  fetch?: typeof fetch
  sleep?: (ms: number) => Promise<void>
  now?: () => number
}

type Answer = { status: number; body: Record<string, unknown> }

/**
 * A card processor's API behind timeout, retry and circuit breaker. The order
 * id is the charge's idempotency key, so a retry, a redelivery or a look-up
 * never charges twice. Only a processor that does not answer (timeouts, 5xx,
 * refused or dropped connections) counts against the breaker: a decline, or a
 * charge the processor is still working on, is an answer.
 */
export function createGatewayClient({
  baseUrl,
  secretKey,
  settleBudgetMs,
  settlePollMs,
  fetch: doFetch = fetch,
  sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now = Date.now,
  ...resilience
}: GatewayClientOptions) {
  const policy = createCallPolicy({ ...resilience, isTransient })
  // Under the base's own path (`https://psp.example/v1` + `/charges`), which `new URL(path, base)` would drop.
  const base = baseUrl.replace(/\/+$/, '')
  const url = (path: string) => `${base}${path}`

  async function call(
    path: string,
    init: {
      method: string
      key?: string
      body?: unknown
      trace?: TraceContext | undefined
      /** The order's correlation id: the processor's log lines about the call carry it. */
      correlationId?: string | undefined
    },
    signal: AbortSignal,
  ): Promise<Answer> {
    const headers: Record<string, string> = {
      ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(init.key === undefined ? {} : { 'Idempotency-Key': init.key }),
      // Only a header-safe one: a value fetch refuses would read as the processor being down.
      ...(init.correlationId !== undefined && VISIBLE_ASCII.test(init.correlationId)
        ? { [HEADERS.correlationId]: init.correlationId }
        : {}),
      Authorization: `Bearer ${secretKey}`,
    }
    // The processor's spans are children of the caller's (W3C traceparent).
    if (init.trace !== undefined) writeTraceHeaders(init.trace, (name, value) => (headers[name] = value))
    const response = await doFetch(url(path), {
      method: init.method,
      signal,
      headers,
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    })
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>
    if (response.status >= 500 || response.status === 429) throw new TransientGatewayError(response.status)
    if (response.status === 401 || response.status === 403) throw new GatewayKeyRefusedError(response.status)
    return { status: response.status, body }
  }

  /** A look-up of a key nobody uses: what the probe and the start-up key check send. */
  const lookUpUnusedKey = (signal: AbortSignal) =>
    call('/charge-attempts/health-probe', { method: 'GET' }, signal)

  /** One policy run: retries transient failures; maps breaker and exhaustion to typed errors. */
  async function run<T>(
    work: (signal: AbortSignal) => Promise<T>,
    beforeAttempt?: () => Promise<void>,
  ): Promise<T> {
    try {
      return await policy.execute(({ signal }) => work(signal), beforeAttempt)
    } catch (error) {
      if (
        error instanceof GatewayProtocolError ||
        error instanceof RefundRefusedError ||
        error instanceof ChargeNoLongerWanted
      )
        throw error
      if (error instanceof BrokenCircuitError)
        throw new CircuitOpenError('circuit open: gateway failing', { cause: error })
      throw new GatewayUnavailableError('gateway unavailable after retries', { cause: error })
    }
  }

  const protocolError = (what: string, { status, body }: Answer) =>
    new GatewayProtocolError(`${what}: gateway answered ${status}: ${JSON.stringify(body).slice(0, 200)}`)

  /** One charge call; `processing` when another attempt under the key is still being decided. */
  async function chargeOnce(
    request: ChargeRequest,
    signal: AbortSignal,
    trace: TraceContext | undefined,
    correlationId: string | undefined,
  ): Promise<Exclude<ChargeOutcome, { kind: 'unresolved' }> | { kind: 'processing' }> {
    const answer = await call(
      '/charges',
      { method: 'POST', key: request.orderId, body: request, trace, correlationId },
      signal,
    )
    const { status, body } = answer
    if (status === 200 || status === 201) {
      if (typeof body.id !== 'string') throw new GatewayProtocolError('charge answer without an id')
      return { kind: 'succeeded', chargeId: body.id }
    }
    if (status === 402)
      return { kind: 'declined', code: typeof body.error === 'string' ? body.error : 'card_declined' }
    if (status === 409 && body.error === 'idempotency_key_in_use') return { kind: 'processing' }
    throw protocolError('charge', answer)
  }

  return {
    breaker: policy.breaker,

    /**
     * Charges once per order, whatever happens on the way: retries and polls
     * under the order's key until the processor gives a definite answer or
     * the settle budget runs out (`unresolved`). Throws {@link CircuitOpenError}
     * while the breaker is open, {@link GatewayProtocolError} on a fault
     * retrying cannot fix.
     *
     * `stillWanted` is asked before every attempt after the first (a retry, a
     * poll): when it says no (the order was decided meanwhile, e.g. cancelled
     * at its deadline) nothing more is sent and the charge is `unresolved`,
     * left to the reconciliation that decision started. Without it, an
     * attempt the processor answered 503 (nothing written) would be followed
     * by a new charge of a cancelled order.
     *
     * `notAfter` (epoch ms, the order's deadline): no attempt, the first
     * included, starts at or after it; the charge is then `unresolved` like
     * one no longer wanted. The waits before an attempt (express work, a
     * retry's backoff) cannot carry a charge past the deadline.
     */
    async charge(
      request: ChargeRequest,
      trace?: TraceContext,
      correlationId?: string,
      stillWanted?: () => Promise<boolean>,
      notAfter?: number,
    ): Promise<ChargeOutcome> {
      // The processor serves both lanes: a standard charge waits while express
      // work is in flight (lane-yield.ts; bounded, and before the settle budget starts).
      const held = laneYield()
      if (held !== undefined) await held
      const until = now() + settleBudgetMs
      let last = 'no attempt'
      let attempts = 0
      // Asked outside the breaker and the attempt's deadline: the order's
      // decision is not the processor's health, and its read takes none of
      // the attempt's time.
      const pastDeadline = () => {
        if (notAfter !== undefined && now() >= notAfter)
          throw new ChargeNoLongerWanted(`the order's deadline passed after ${attempts} attempt(s)`)
      }
      const beforeAttempt = async () => {
        pastDeadline()
        if (attempts > 0 && stillWanted !== undefined) {
          if (!(await stillWanted()))
            throw new ChargeNoLongerWanted(`the order was decided after ${attempts} attempt(s)`)
          // The read may have taken until past the deadline.
          pastDeadline()
        }
        attempts++
      }
      const attempt = async (signal: AbortSignal) => {
        try {
          return await chargeOnce(request, signal, trace, correlationId)
        } catch (error) {
          last = `no answer: ${error instanceof Error ? error.message : String(error)}`
          throw error
        }
      }
      for (;;) {
        try {
          const outcome = await run(attempt, beforeAttempt)
          if (outcome.kind !== 'processing') return outcome
          last = 'the processor is still processing the charge'
        } catch (error) {
          if (error instanceof ChargeNoLongerWanted)
            return {
              kind: 'unresolved',
              detail: `${error.message}; no new attempt sent (${last})`,
              ...(attempts === 0 ? { notSent: true as const } : {}),
            }
          if (!(error instanceof GatewayUnavailableError)) throw error
          const cause = error.cause instanceof Error ? error.cause.message : String(error.cause)
          last = `no answer: ${cause}`
        }
        const left = until - now()
        if (left <= 0) return { kind: 'unresolved', detail: last }
        await sleep(Math.min(settlePollMs, left))
      }
    },

    /** What the processor knows about the attempt under `key`. */
    async lookup(key: string, trace?: TraceContext, correlationId?: string): Promise<AttemptLookup> {
      return run(async (signal) => {
        const path = `/charge-attempts/${encodeURIComponent(key)}`
        const answer = await call(path, { method: 'GET', trace, correlationId }, signal)
        const { status, body } = answer
        if (status === 404) return { kind: 'not_found' }
        if (status !== 200) throw protocolError('look-up', answer)
        if (body.status === 'processing') return { kind: 'processing' }
        if (body.status === 'declined')
          return { kind: 'declined', code: typeof body.code === 'string' ? body.code : 'card_declined' }
        const charge = body.charge as { id?: unknown } | undefined
        if (body.status === 'succeeded' && typeof charge?.id === 'string')
          return { kind: 'succeeded', chargeId: charge.id }
        throw protocolError('look-up', answer)
      })
    },

    /**
     * Refunds what is left of a charge, once per `key` (retries replay the
     * same refund). A refund the processor refuses because nothing is left is
     * a {@link RefundRefusedError} with code `refund_exceeds_charge`.
     */
    async refund({
      chargeId,
      key,
      trace,
      correlationId,
    }: {
      chargeId: string
      key: string
      trace?: TraceContext | undefined
      correlationId?: string | undefined
    }): Promise<Refund> {
      return run(async (signal) => {
        const answer = await call(
          '/refunds',
          { method: 'POST', key, body: { chargeId }, trace, correlationId },
          signal,
        )
        const { status, body } = answer
        if ((status === 200 || status === 201) && typeof body.id === 'string')
          return {
            refundId: body.id,
            amountCents: typeof body.amountCents === 'number' ? body.amountCents : 0,
          }
        if (status === 409 && body.error === 'idempotency_key_in_use') throw new TransientGatewayError(409)
        if (status === 404 || status === 422) {
          const code = typeof body.error === 'string' ? body.error : `refund_refused_${status}`
          throw new RefundRefusedError(code, `refund of ${chargeId} refused: ${code}`)
        }
        throw protocolError('refund', answer)
      })
    },

    /**
     * Whether the processor takes the secret key: the probe's look-up once,
     * outside the breaker and without retries. `refused` for a 401 or 403,
     * `unreachable` for no answer (or a 5xx) within `timeoutMs`: a processor
     * not up yet says nothing about the key.
     */
    async checkKey(): Promise<'accepted' | 'refused' | 'unreachable'> {
      try {
        await lookUpUnusedKey(AbortSignal.timeout(resilience.timeoutMs))
        return 'accepted'
      } catch (error) {
        return error instanceof GatewayKeyRefusedError ? 'refused' : 'unreachable'
      }
    },

    /**
     * One call the breaker can learn from without spending an order on it:
     * the same look-up. Any answer means the processor is up.
     */
    async probe(): Promise<void> {
      await policy.breaker.execute(async ({ signal }) => {
        await lookUpUnusedKey(AbortSignal.any([signal, AbortSignal.timeout(resilience.timeoutMs)]))
      })
    },
  }
}

export type GatewayClient = ReturnType<typeof createGatewayClient>
