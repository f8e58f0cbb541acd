/*
 * NKEY challenge signing with the runtime's own Ed25519 (node:crypto: Bun,
 * Node, Deno) instead of nats.js's pure-JavaScript one (tweetnacl). Same key,
 * same signature (Ed25519 is deterministic), but no JIT-compiled field
 * arithmetic kept resident for good: signing the connect challenge with
 * tweetnacl cost a bare compiled probe 4.6 MiB of RSS, a compiled worker
 * 1.3 MiB (docs/performance.md). The Worker intake keeps nats.js's signer
 * (nats-identity.ts): workerd's node:crypto is not relied on for Ed25519.
 */
import { Buffer } from 'node:buffer'
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto'
import type { Authenticator } from '@nats-io/nats-core'
import { Codec } from '@nats-io/nkeys/lib/codec.js'
import { Prefix } from '@nats-io/nkeys/lib/nkeys.js'

/** RFC 8410's PKCS #8 wrapping of a raw Ed25519 private key (the 32-byte seed follows). */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
/** RFC 8410's SPKI wrapping of a raw Ed25519 public key (the 32 bytes follow). */
const SPKI_ED25519_PREFIX_LENGTH = 12

export class NkeySeedError extends Error {
  override readonly name = 'NkeySeedError'
}

export interface NkeyUser {
  /** The `U...` public key the server's authorization block lists. */
  publicKey: string
  /** Signs the server's nonce: what nats.js sends in CONNECT. */
  authenticator: Authenticator
}

/** A user seed (`SU...`) as a signer; throws NkeySeedError on anything else. */
export function nkeyUser(seed: string): NkeyUser {
  let decoded: { prefix: Prefix; buf: Uint8Array }
  try {
    decoded = Codec.decodeSeed(new TextEncoder().encode(seed))
  } catch (error) {
    throw new NkeySeedError(`not an NKEY seed (${error instanceof Error ? error.message : String(error)})`)
  }
  if (decoded.prefix !== Prefix.User) throw new NkeySeedError('not a user seed (SU...)')
  const privateKey: KeyObject = createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, decoded.buf]),
    format: 'der',
    type: 'pkcs8',
  })
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  const raw = new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX_LENGTH))
  const publicKey = new TextDecoder().decode(Codec.encode(Prefix.User, raw))
  return {
    publicKey,
    authenticator: (nonce?: string) => ({
      nkey: publicKey,
      sig: nonce ? sign(null, new TextEncoder().encode(nonce), privateKey).toString('base64') : '',
    }),
  }
}
