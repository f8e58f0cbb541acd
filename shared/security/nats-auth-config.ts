/*
 * The nats-server `authorization {}` block, generated from the access table
 * (access.ts) and the identities' public keys: never written by hand. With
 * users listed and no `no_auth_user`, anonymous clients are refused. The
 * system account follows it, with the JetStream API guard's mappings unless
 * `apiGuard` is false (api-guard.ts).
 */
import { renderApiGuard } from './api-guard.ts'
import { IDENTITIES, permissionsOf, type Identity } from './access.ts'

const q = (s: string): string => JSON.stringify(s)
const list = (items: readonly string[], indent: string): string =>
  `[\n${items.map((i) => `${indent}  ${q(i)}`).join(',\n')}\n${indent}]`

/** `publicKeys` has every identity's NKEY public key (U...). */
export function renderAuthorization(
  publicKeys: Readonly<Record<Identity, string>>,
  { apiGuard = true }: { apiGuard?: boolean } = {},
): string {
  const users = IDENTITIES.map((identity) => {
    const nkey = publicKeys[identity]
    if (identity === 'admin')
      return `    # admin: provisioning and operator commands\n    { nkey: ${q(nkey)} }`
    const { publish, subscribe } = permissionsOf(identity, nkey, {
      admin: publicKeys.admin,
      console: publicKeys.console,
    })
    return [
      `    # ${identity}`,
      `    { nkey: ${q(nkey)}, permissions: {`,
      `      publish: { allow: ${list(publish, '      ')} }`,
      `      subscribe: { allow: ${list(subscribe, '      ')} }`,
      '    } }',
    ].join('\n')
  })
  const authorization = ['authorization {', '  timeout: 2', '  users: [', users.join(',\n'), '  ]', '}', '']
  return [...authorization, renderApiGuard({ on: apiGuard })].join('\n')
}
