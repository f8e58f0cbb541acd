import type { ChargeRequest, RefundRequest } from './domain.ts'

/**
 * How the ledger tells "the same request under the same key" without keeping
 * a card token: the SHA-256 (hex) of the body's fields in a fixed order.
 */
async function sha256Hex(parts: readonly unknown[]): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(parts)))
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('')
}

export function chargeFingerprint({ amountCents, currency, token, orderId }: ChargeRequest): Promise<string> {
  return sha256Hex(['charge', amountCents, currency, token, orderId])
}

/** An omitted amount differs from the same amount written out, as two different bodies do. */
export function refundFingerprint({ chargeId, amountCents }: RefundRequest): Promise<string> {
  return sha256Hex(['refund', chargeId, amountCents ?? null])
}
