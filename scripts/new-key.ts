// `npm run -s key -- <kind>`: one new key for a rotation (docs/security.md, "Rotation"),
// on stdout and nowhere else (`-s`: without npm's banner there).
//
//   nkey                  a NATS identity, as JSON: {"seed","publicKey"} (NATS_NKEY_SEED; the public key goes in the authorization block)
//   sealing               a card-token key pair, as JSON: {"publicJwk","privateJwk"} (PAYMENT_TOKEN_PUBLIC_KEY, PAYMENT_TOKEN_PRIVATE_KEYS)
//   secret                32 random bytes, base64url, bare (IDEMPOTENCY_FINGERPRINT_KEY, GATEWAY_SECRET_KEY, a record seal secret)
//   api-key <id> <role>   an API key and its API_KEYS entry, as JSON: {"key","entry"} (role client or admin)
import * as v from 'valibot'
import { ApiKeyIdSchema } from '../schemas/primitives.ts'
import { API_KEY_ROLES, sha256, toHex, type ApiKeyRole } from '../shared/http/api-keys.ts'
import { randomSecret } from '../shared/security/deployment-secrets.ts'
import { createNkeyIdentity } from '../shared/security/nats-identity.ts'
import { generateSealingKeyPair } from '../shared/security/sealed-token.ts'

const USAGE = 'usage: npm run -s key -- nkey | sealing | secret | api-key <id> <client|admin>'

async function main(args: readonly string[]): Promise<unknown> {
  const [kind, id, role] = args
  switch (kind) {
    case 'nkey':
      return createNkeyIdentity()
    case 'sealing':
      return await generateSealingKeyPair()
    case 'secret':
      return randomSecret('')
    case 'api-key': {
      if (!v.is(ApiKeyIdSchema, id) || !API_KEY_ROLES.includes(role as ApiKeyRole)) throw new Error(USAGE)
      const key = randomSecret(`sk_${role}_`)
      return { key, entry: `${id}:${role}:${toHex(await sha256(key))}` }
    }
    default:
      throw new Error(USAGE)
  }
}

try {
  const made = await main(process.argv.slice(2))
  // A secret bare: quotes pasted into an env file would be kept by some loaders and dropped by others.
  process.stdout.write(`${typeof made === 'string' ? made : JSON.stringify(made)}\n`)
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
}
