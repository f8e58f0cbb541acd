/*
 * What nats.js's NKEY code (`@nats-io/nkeys`) asks of tweetnacl, on
 * @noble/ed25519: the Worker intake's bundle takes this in tweetnacl's place
 * (`[alias]` in wrangler.toml). The intake connects per request and signs
 * the server's challenge each time, and nkeys derives the key pair again for
 * every signature: 0.54 ms with noble against 19.1 ms with tweetnacl on V8
 * (`bench/probes/nkey-signing.ts`), and 4 KB less gzipped (docs/runtimes.md). Same keys,
 * same signatures: Ed25519 is deterministic (`edge-nacl.test.ts` compares
 * the two). The curve (X25519) keys nkeys also offers are not used by the
 * project and are refused here.
 */
import * as ed from '@noble/ed25519'
import { sha512 } from '@noble/hashes/sha2.js'

// noble's synchronous calls need a synchronous SHA-512; nats.js signs synchronously.
ed.hashes.sha512 = sha512

function unsupported(): never {
  throw new Error('X25519 (curve) NKEYs are not available in the Worker intake')
}

function fromSeed(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const publicKey = ed.getPublicKey(seed)
  const secretKey = new Uint8Array(64)
  secretKey.set(seed)
  secretKey.set(publicKey, 32)
  return { publicKey, secretKey }
}

const detached = Object.assign(
  (message: Uint8Array, secretKey: Uint8Array): Uint8Array => ed.sign(message, secretKey.subarray(0, 32)),
  {
    verify: (message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean =>
      ed.verify(signature, message, publicKey),
  },
)

const randomBytes = (length: number): Uint8Array => crypto.getRandomValues(new Uint8Array(length))

export default {
  sign: { keyPair: { fromSeed }, detached },
  randomBytes,
  scalarMult: { base: unsupported },
  box: Object.assign(unsupported, { open: unsupported }),
}
