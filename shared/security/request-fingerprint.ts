/*
 * The digest an idempotency record keeps of the request it was made for, so a
 * retry with the same Idempotency-Key and another body can be refused.
 *
 * The request carries the card token, and the record (readable by every
 * identity that reads the idempotency bucket) carries the rest of the order:
 * a plain hash would let such a reader test guesses of the token offline. So
 * the digest is an HMAC-SHA-256 under a key only the intakes hold:
 * IDEMPOTENCY_FINGERPRINT_KEY when set (every intake of a deployment should
 * share it, so a retry may reach any of them), else one derived (HKDF) from
 * the intake's own NATS seed. WebCrypto only: it runs on Bun, Node, Deno and
 * Workers alike.
 *
 * Keyed digests are stored as `k1:<hex>`. A bare hex digest is the unkeyed
 * SHA-256 of records written before keying (or by an intake with no secret at
 * all, on an unauthenticated bus where nothing is hidden anyway); it is still
 * compared, so retries across an upgrade keep working until those records expire.
 */
const encoder = new TextEncoder()
const KEYED = 'k1:'
const INFO = encoder.encode('order-saga idempotency fingerprint v1')

export interface RequestFingerprinter {
  /** The digest to store for `text` (the request's canonical JSON). */
  digest(text: string): Promise<string>
  /**
   * Whether a stored digest was made for `text`, keyed or from before keying;
   * a digest from before keying may also be of `before`, the text that
   * release hashed for the same request.
   */
  matches(stored: string, text: string, before?: string): Promise<boolean>
}

function toHex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('')
}

/** The SHA-256 of `text` (UTF-8), as lower-case hex. */
export async function sha256Hex(text: string): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', encoder.encode(text)))
}

async function hmacKey(secret: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveKey'])
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(32), info: INFO },
    material,
    { name: 'HMAC', hash: 'SHA-256', length: 256 },
    false,
    ['sign'],
  )
}

/**
 * A fingerprinter keyed by `secret` (IDEMPOTENCY_FINGERPRINT_KEY, or the NATS
 * seed); with none, the unkeyed SHA-256 of before. A digest made under one of
 * the `previous` keys still matches (a rotation: records made before it are
 * retried against the key they were made with).
 */
export function createRequestFingerprinter(
  secret: string | undefined,
  previous: readonly string[] = [],
): RequestFingerprinter {
  const key = secret === undefined || secret === '' ? undefined : hmacKey(secret)
  const earlier = key === undefined ? [] : previous.filter((p) => p !== '').map(hmacKey)
  for (const k of [key, ...earlier]) k?.catch(() => undefined) // surfaced by the digest that awaits it
  const sign = async (under: Promise<CryptoKey>, text: string): Promise<string> =>
    KEYED + toHex(await crypto.subtle.sign('HMAC', await under, encoder.encode(text)))
  return {
    digest: (text) => (key === undefined ? sha256Hex(text) : sign(key, text)),
    async matches(stored, text, before) {
      if (stored.startsWith(KEYED)) {
        if (key === undefined) return false
        for (const under of [key, ...earlier]) if (stored === (await sign(under, text))) return true
        return false
      }
      if (stored === (await sha256Hex(text))) return true
      return before !== undefined && stored === (await sha256Hex(before))
    },
  }
}

/**
 * The fingerprinter of an intake's settings: IDEMPOTENCY_FINGERPRINT_KEY,
 * `new` or `new,old` (digests made under the first, records made under the
 * others still matched: a rotation without a 422 for retries in flight), else
 * `fallback` (the intake's NATS secret), taken whole.
 */
export function fingerprinterFromSettings(
  fingerprintKeys: string | undefined,
  fallback: string | undefined,
): RequestFingerprinter {
  if (fingerprintKeys === undefined) return createRequestFingerprinter(fallback)
  const [current, ...previous] = fingerprintKeys.split(',')
  return createRequestFingerprinter(current, previous)
}
