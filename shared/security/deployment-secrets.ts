/*
 * Everything secret a deployment needs, generated in one go (for `npm start`,
 * the tests and compose) and turned into each service's environment. Kept in
 * files with mode 0600 under a gitignored folder; never logged.
 */
import { GRANTS, IDENTITIES, type Identity } from './access.ts'
import { recordKeysText, SEALED_BUCKETS } from './record-seal.ts'
import { sha256, toHex, type ApiKeyRole } from '../http/api-keys.ts'
import { toBase64Url } from './base64url.ts'
import { createNkeyIdentity, type NkeyIdentity } from './nats-identity.ts'
import { generateSealingKeyPair, type SealingKeyPair } from './sealed-token.ts'

export interface DeploymentSecrets {
  /** API keys by key id, with their role. */
  apiKeys: Record<string, { key: string; role: ApiKeyRole }>
  gatewaySecretKey: string
  sealing: SealingKeyPair
  nats: Record<Identity, NkeyIdentity>
  /** Password of the cluster routes (nodes authenticate to each other). */
  routePassword: string
  /** Keys the intakes' idempotency digests (IDEMPOTENCY_FINGERPRINT_KEY), the same for every intake. */
  idempotencyFingerprintKey: string
  /** Master secret of the record seals: each service gets only its buckets' keys (RECORD_KEYS). */
  recordSealSecret: string
}

/** A random secret: `prefix` + 32 bytes, base64url. */
export function randomSecret(prefix: string): string {
  return `${prefix}${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`
}

export interface GivenSecrets {
  apiKey?: string | undefined
  adminApiKey?: string | undefined
  gatewaySecretKey?: string | undefined
}

/** Fresh secrets; the API keys and the gateway key are taken from `given` when set. */
export async function generateDeploymentSecrets(given: GivenSecrets = {}): Promise<DeploymentSecrets> {
  const nats = Object.fromEntries(IDENTITIES.map((id) => [id, createNkeyIdentity()])) as Record<
    Identity,
    NkeyIdentity
  >
  return {
    apiKeys: {
      client: { key: given.apiKey ?? randomSecret('sk_client_'), role: 'client' },
      admin: { key: given.adminApiKey ?? randomSecret('sk_admin_'), role: 'admin' },
    },
    gatewaySecretKey: given.gatewaySecretKey ?? randomSecret('gw_sk_'),
    sealing: await generateSealingKeyPair(),
    nats,
    routePassword: randomSecret(''),
    idempotencyFingerprintKey: randomSecret(''),
    recordSealSecret: randomSecret(''),
  }
}

/** The services `serviceSecrets` knows; each gets only what it needs. */
export type SecretHolder = Identity | 'gateway'

/**
 * The secret settings of one service, as env entries (NAME -> value). Callers
 * that can should write them to files and pass NAME_FILE instead.
 */
export async function serviceSecrets(
  holder: SecretHolder,
  secrets: DeploymentSecrets,
): Promise<Record<string, string>> {
  const env: Record<string, string> = {}
  if (holder !== 'gateway') env['NATS_NKEY_SEED'] = secrets.nats[holder].seed
  if (
    holder === 'order' ||
    holder === 'order-intake' ||
    holder === 'order-edge' ||
    holder === 'inventory' ||
    holder === 'console' ||
    holder === 'analytics'
  ) {
    const entries = await Promise.all(
      Object.entries(secrets.apiKeys).map(
        async ([id, { key, role }]) => `${id}:${role}:${toHex(await sha256(key))}`,
      ),
    )
    env['API_KEYS'] = entries.join(',')
  }
  if (holder === 'order' || holder === 'order-intake' || holder === 'order-edge') {
    env['PAYMENT_TOKEN_PUBLIC_KEY'] = JSON.stringify(secrets.sealing.publicJwk)
    env['IDEMPOTENCY_FINGERPRINT_KEY'] = secrets.idempotencyFingerprintKey
  }
  if (holder === 'payment') {
    env['PAYMENT_TOKEN_PRIVATE_KEYS'] = JSON.stringify([secrets.sealing.privateJwk])
  }
  if (holder === 'payment' || holder === 'gateway') env['GATEWAY_SECRET_KEY'] = secrets.gatewaySecretKey
  const sealed = sealedBucketsOf(holder)
  if (sealed.length > 0) env['RECORD_KEYS'] = await recordKeysText(secrets.recordSealSecret, sealed)
  return env
}

/**
 * The sealed buckets whose key a service holds: those its grant reads or
 * writes. Not the console's: it shows records and decides nothing on them,
 * and a key would let it seal a record of its own making.
 */
export function sealedBucketsOf(holder: SecretHolder): string[] {
  if (holder === 'gateway' || holder === 'admin' || holder === 'console') return []
  return Object.keys(GRANTS[holder].buckets).filter((b) => SEALED_BUCKETS.includes(b))
}

/** Public keys of every NATS identity, for the server config. */
export function natsPublicKeys(secrets: DeploymentSecrets): Record<Identity, string> {
  return Object.fromEntries(IDENTITIES.map((id) => [id, secrets.nats[id].publicKey])) as Record<
    Identity,
    string
  >
}
