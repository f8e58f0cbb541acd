/*
 * A secret of a service identity's own, derived from its NKEY seed, and the
 * MACs made with it: ids that retries of the same work make alike and no
 * other identity can make first (dead-letter ids, the fresh id of an event
 * whose id another message held). `node:crypto` comes from
 * runtime/node-crypto.ts: the Worker's bundle reaches these modules but makes
 * no such id; Bun, Node and Deno, which run the consumers, all have it.
 */
import { nodeCrypto } from '../runtime/node-crypto.ts'

/** The identity's secret (undefined without an NKEY seed). */
export function identityKey(seed: string | undefined): Uint8Array | undefined {
  if (seed === undefined || seed === '') return undefined
  return hmac(seed, 'order-saga identity key')
}

/** HMAC-SHA256 of `text` under the identity's key, as 24 hex digits (96 bits). */
export function macOf(key: Uint8Array, text: string): string {
  return hmac(key, text).toString('hex').slice(0, 24)
}

function hmac(key: string | Uint8Array, text: string): Buffer {
  if (nodeCrypto?.createHmac === undefined) throw new Error('identity MACs need node:crypto')
  return nodeCrypto.createHmac('sha256', key).update(text).digest()
}
