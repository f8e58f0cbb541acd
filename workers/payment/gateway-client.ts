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

export type ChargeOutcome = { kind: 'succeeded'; chargeId: string } | { kind: 'declined'; code: string }

/** The gateway could not be reached within the retry budget. */
export class GatewayUnavailableError extends Error {
  override readonly name = 'GatewayUnavailableError'
}

/** The circuit breaker is open: the gateway is known to be down, no call was made. */
export class CircuitOpenError extends Error {
  override readonly name = 'CircuitOpenError'
}

/** A 5xx or 429: worth retrying with the same idempotency key. */
export class TransientGatewayError extends Error {
  override readonly name = 'TransientGatewayError'
  constructor(readonly status: number) {
    super(`gateway answered ${status}`)
  }
}

/** An answer that retrying cannot fix (a 4xx other than 402): a bug on one side. */
export class GatewayProtocolError extends Error {
  override readonly name = 'GatewayProtocolError'
}

function isTransient(error: Error): boolean {
  // fetch rejects with a TypeError when the connection is refused or reset.
  return error instanceof TransientGatewayError || error instanceof TypeError
}

export interface GatewayClientOptions extends Omit<ResilienceOptions, 'isTransient'> {
  baseUrl: string
  /** Sent as `Authorization: Bearer <secretKey>` on every call; never logged. */
  secretKey: string
  fetch?: typeof fetch
}

/**
 * A card processor's `POST /charges` behind timeout, retry and circuit
 * breaker. The order id is the idempotency key, so no retry or redelivery
 * ever charges twice.
 */
export function createGatewayClient({
  baseUrl,
  secretKey,
  fetch: doFetch = fetch,
  ...resilience
}: GatewayClientOptions) {
  const policy = createCallPolicy({ ...resilience, isTransient })
  const url = new URL('/charges', baseUrl).toString()

  async function attempt(request: ChargeRequest, signal: AbortSignal): Promise<ChargeOutcome> {
    const response = await doFetch(url, {
      method: 'POST',
      signal,
      headers: {
        'Content-Type': 'application/json',
        'Idempotency-Key': request.orderId,
        Authorization: `Bearer ${secretKey}`,
      },
      body: JSON.stringify(request),
    })
    const body = (await response.json().catch(() => ({}))) as { id?: unknown; error?: unknown }
    if (response.status === 200 || response.status === 201) {
      if (typeof body.id !== 'string') throw new GatewayProtocolError('charge answer without an id')
      return { kind: 'succeeded', chargeId: body.id }
    }
    if (response.status === 402)
      return { kind: 'declined', code: typeof body.error === 'string' ? body.error : 'card_declined' }
    if (response.status >= 500 || response.status === 429) throw new TransientGatewayError(response.status)
    // A wrong or missing GATEWAY_SECRET_KEY: retrying cannot fix it; the message
    // goes the way of any other protocol fault (dead-lettered for a replay).
    if (response.status === 401 || response.status === 403)
      throw new GatewayProtocolError(
        `gateway refused the secret key (${response.status}): check GATEWAY_SECRET_KEY`,
      )
    // An earlier attempt with this key is still being processed: ask again later.
    if (response.status === 409 && body.error === 'idempotency_key_in_use')
      throw new TransientGatewayError(409)
    throw new GatewayProtocolError(
      `gateway answered ${response.status}: ${JSON.stringify(body).slice(0, 200)}`,
    )
  }

  return {
    breaker: policy.breaker,
    async charge(request: ChargeRequest): Promise<ChargeOutcome> {
      try {
        return await policy.execute(({ signal }) => attempt(request, signal))
      } catch (error) {
        if (error instanceof GatewayProtocolError) throw error
        if (error instanceof BrokenCircuitError)
          throw new CircuitOpenError('circuit open: gateway failing', { cause: error })
        throw new GatewayUnavailableError('gateway unavailable after retries', { cause: error })
      }
    },
  }
}

export type GatewayClient = ReturnType<typeof createGatewayClient>
