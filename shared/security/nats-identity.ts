/*
 * NATS identities are NKEYs: the server config holds only public keys, each
 * service holds its own seed (NATS_NKEY_SEED or NATS_NKEY_SEED_FILE) and
 * signs the server's challenge with it. Replies reach a client on an inbox
 * prefix derived from its public key, which only it may subscribe to.
 */
import { nkeyAuthenticator, nkeys, type ConnectionOptions } from '@nats-io/nats-core'
import { inboxPrefixOf } from './inbox-prefix.ts'

export interface NkeyIdentity {
  seed: string
  publicKey: string
}

export function createNkeyIdentity(): NkeyIdentity {
  const pair = nkeys.createUser()
  return { seed: new TextDecoder().decode(pair.getSeed()), publicKey: pair.getPublicKey() }
}

/** The public key of a user seed; throws on anything that is not one. */
export function publicKeyOfSeed(seed: string): string {
  return nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey()
}

/** Client options for a seed: NKEY challenge signing and the identity's own inbox prefix. */
export function natsAuthOptions(seed: string | undefined): Partial<ConnectionOptions> {
  if (seed === undefined) return {}
  const bytes = new TextEncoder().encode(seed)
  return { authenticator: nkeyAuthenticator(bytes), inboxPrefix: inboxPrefixOf(publicKeyOfSeed(seed)) }
}
