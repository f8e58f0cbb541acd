/**
 * Client options from a service's NATS settings (Bun, Node, Deno): its NKEY
 * identity, signed with the runtime's Ed25519 (`nkey-signer.ts`), its own
 * inbox prefix and, when NATS_TLS_CA_FILE is set, TLS that trusts that CA (the
 * servers' certificates must name the host in NATS_URL).
 */
import type { ConnectionOptions } from '@nats-io/nats-core'
import { inboxPrefixOf } from './inbox-prefix.ts'
import { nkeyUser } from './nkey-signer.ts'

export function natsClientOptions(config: {
  NATS_NKEY_SEED?: string | undefined
  NATS_TLS_CA_FILE?: string | undefined
}): Partial<ConnectionOptions> {
  const user = config.NATS_NKEY_SEED === undefined ? undefined : nkeyUser(config.NATS_NKEY_SEED)
  return {
    ...(user === undefined
      ? {}
      : { authenticator: user.authenticator, inboxPrefix: inboxPrefixOf(user.publicKey) }),
    ...(config.NATS_TLS_CA_FILE === undefined ? {} : { tls: { caFile: config.NATS_TLS_CA_FILE } }),
  }
}
