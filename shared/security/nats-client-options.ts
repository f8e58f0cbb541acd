/**
 * Client options from a service's NATS settings (Bun, Node, Deno): its NKEY
 * identity, signed with the runtime's Ed25519 (`nkey-signer.ts`), its own
 * inbox prefix and TLS: required when NATS_URL names a `tls://` server (nats.js
 * alone would connect in plain text to a server that offers no TLS), and
 * trusting only NATS_TLS_CA_FILE's CA when that is set (the servers'
 * certificates must name the host in NATS_URL).
 */
import type { ConnectionOptions } from '@nats-io/nats-core'
import { inboxPrefixOf } from './inbox-prefix.ts'
import { nkeyUser } from './nkey-signer.ts'

export function natsClientOptions(config: {
  NATS_URL?: readonly string[] | undefined
  NATS_NKEY_SEED?: string | undefined
  NATS_TLS_CA_FILE?: string | undefined
}): Partial<ConnectionOptions> {
  const user = config.NATS_NKEY_SEED === undefined ? undefined : nkeyUser(config.NATS_NKEY_SEED)
  const tlsUrl = config.NATS_URL?.some((url) => url.toLowerCase().startsWith('tls://')) ?? false
  return {
    ...(user === undefined
      ? {}
      : { authenticator: user.authenticator, inboxPrefix: inboxPrefixOf(user.publicKey) }),
    ...(config.NATS_TLS_CA_FILE !== undefined
      ? { tls: { caFile: config.NATS_TLS_CA_FILE } }
      : tlsUrl
        ? { tls: {} }
        : {}),
  }
}
