import { createHash } from 'node:crypto'
import type { ChargeRequest, RefundRequest } from './domain.ts'

/**
 * How the ledger tells "the same request under the same key" without keeping
 * a card token: the SHA-256 (hex) of the body's fields in a fixed order.
 * `node:crypto` (the gateway runs on Bun, Node and Deno, never at the edge):
 * on Bun ~0.7 µs per hash against ~5 µs for WebCrypto's `digest`.
 */
function sha256Hex(parts: readonly unknown[]): Promise<string> {
  return Promise.resolve(createHash('sha256').update(JSON.stringify(parts), 'utf8').digest('hex'))
}

export function chargeFingerprint({ amountCents, currency, token, orderId }: ChargeRequest): Promise<string> {
  return sha256Hex(['charge', amountCents, currency, token, orderId])
}

/** An omitted amount differs from the same amount written out, as two different bodies do. */
export function refundFingerprint({ chargeId, amountCents }: RefundRequest): Promise<string> {
  return sha256Hex(['refund', chargeId, amountCents ?? null])
}
