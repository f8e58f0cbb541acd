import * as v from 'valibot'
import { parseJwkList } from './sealed-token.ts'

/** A required setting holding a P-256 JWK or a JSON array of them; the message never echoes the value. */
export const jwkListFromEnv = v.pipe(
  v.string('is required (see docs/security.md, "Card tokens")'),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    try {
      return parseJwkList(dataset.value)
    } catch (error) {
      addIssue({ message: error instanceof Error ? error.message : 'is not a JWK' })
      return NEVER
    }
  }),
)

/**
 * The intake's key: exactly one public P-256 JWK. A private key (a `d`) or a
 * list is refused: an intake that held the private key could open tokens.
 */
export const publicJwkFromEnv = v.pipe(
  jwkListFromEnv,
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const [key, ...more] = dataset.value
    if (key === undefined || more.length > 0) {
      addIssue({ message: 'must be one public JWK, not a list' })
      return NEVER
    }
    if (key.d !== undefined) {
      addIssue({ message: 'is a private key: give the intake only the public key (without "d")' })
      return NEVER
    }
    return key
  }),
)

/**
 * IDEMPOTENCY_FINGERPRINT_KEY: optional; one key of at least 32 characters,
 * or `new,old,...` during a rotation: the earlier keys only match records
 * made under them, so they are taken as they were (a NATS token an intake
 * derived its digests from, say), only not empty. The message never echoes
 * the value.
 */
export const fingerprintKeyFromEnv = v.optional(
  v.pipe(
    v.string(),
    v.check(
      (keys) => (keys.split(',')[0] ?? '').length >= 32,
      'must be at least 32 characters (e.g. 32 random bytes, base64); with earlier keys after commas, the first',
    ),
    v.check(
      (keys) => keys.split(',').every((key) => key !== ''),
      'must not hold an empty key (two commas, or one at either end)',
    ),
    // Every intake must hold the same key: a stray blank line or space in one's file would differ silently.
    v.check(
      (keys) => keys.split(',').every((key) => key.trim() === key),
      'must not start or end with whitespace (an extra line in its file?)',
    ),
  ),
)
