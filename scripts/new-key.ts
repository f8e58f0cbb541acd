// `npm run -s key -- <kind>`: one new key for a rotation (docs/security.md, "Rotation"),
// on stdout and nowhere else (`-s`: without npm's banner there).
//
//   nkey                  a NATS identity, as JSON: {"seed","publicKey"} (NATS_NKEY_SEED; the public key goes in the authorization block)
//   sealing               a card-token key pair, as JSON: {"publicJwk","privateJwk"} (PAYMENT_TOKEN_PUBLIC_KEY, PAYMENT_TOKEN_PRIVATE_KEYS)
//   secret                32 random bytes, base64url, bare (IDEMPOTENCY_FINGERPRINT_KEY, GATEWAY_SECRET_KEY, a record seal secret)
//   api-key <id> <role>   an API key and its API_KEYS entry, as JSON: {"key","entry"} (role client or admin)
import * as v from 'valibot'
import { asksForHelp } from './lib/help.ts'
import { ApiKeyIdSchema } from '../schemas/primitives.ts'
import { API_KEY_ROLES, sha256, toHex, type ApiKeyRole } from '../shared/http/api-keys.ts'
import { randomSecret } from '../shared/security/deployment-secrets.ts'
import { createNkeyIdentity } from '../shared/security/nats-identity.ts'
import { generateSealingKeyPair } from '../shared/security/sealed-token.ts'

const USAGE = 'usage: npm run -s key -- nkey | sealing | secret | api-key <id> <client|admin>'

/** A mistake on the command line: said with the usage, exit 1. */
class UsageError extends Error {
  override readonly name = 'UsageError'
}

async function main(args: readonly string[]): Promise<unknown> {
  const [kind, id, role] = args
  const takes = kind === 'api-key' ? 3 : 1
  if (kind === 'api-key' && args.length < takes) throw new UsageError('api-key takes an id and a role')
  if (kind !== undefined && args.length > takes)
    throw new UsageError(
      `${kind} takes ${takes === 3 ? 'an id and a role' : 'no arguments'}; got ${args.slice(takes).join(' ')}`,
    )
  switch (kind) {
    case 'nkey':
      return createNkeyIdentity()
    case 'sealing':
      return await generateSealingKeyPair()
    case 'secret':
      return randomSecret('')
    case 'api-key': {
      if (!v.is(ApiKeyIdSchema, id))
        throw new UsageError(
          `the id must be 1-64 characters of a-z, 0-9, _ and -; got ${JSON.stringify(id ?? '')}`,
        )
      if (!API_KEY_ROLES.includes(role as ApiKeyRole))
        throw new UsageError(`the role must be client or admin; got ${JSON.stringify(role ?? '')}`)
      const key = randomSecret(`sk_${role}_`)
      return { key, entry: `${id}:${role}:${toHex(await sha256(key))}` }
    }
    default:
      throw new UsageError(kind === undefined ? 'which kind of key?' : `unknown kind ${JSON.stringify(kind)}`)
  }
}

const argv = process.argv.slice(2)
if (asksForHelp(argv)) {
  process.stdout.write(`${USAGE}\n`)
  process.exit(0)
}
try {
  const made = await main(argv)
  // A secret bare: quotes pasted into an env file would be kept by some loaders and dropped by others.
  process.stdout.write(`${typeof made === 'string' ? made : JSON.stringify(made)}\n`)
} catch (error) {
  const message = error instanceof Error ? error.message : String(error)
  process.stderr.write(`${error instanceof UsageError ? `key: ${message}\n${USAGE}` : message}\n`)
  process.exitCode = 1
}
