// The baselines' NATS identity from NATS_NKEY_SEED, with @nats-io/nats-core
// alone: NKEY challenge signing and the identity's own inbox prefix, as
// shared/security/nats-identity.ts does. That module is not imported here: it
// loads the access table and the topology, which a minimal baseline (and its
// idle RSS) should not carry. bench/lib/security.ts checks both agree.
import { nkeyAuthenticator, nkeys, type ConnectionOptions } from '@nats-io/nats-core'

export function baselineNatsAuth(seed: string | undefined): Partial<ConnectionOptions> {
  if (seed === undefined || seed === '') return {}
  const bytes = new TextEncoder().encode(seed)
  const publicKey = nkeys.fromSeed(bytes).getPublicKey()
  return { authenticator: nkeyAuthenticator(bytes), inboxPrefix: `_INBOX_${publicKey}` }
}
