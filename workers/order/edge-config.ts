import type { ConnectionOptions } from '@nats-io/nats-core'
import * as v from 'valibot'
import { keyIdSetFromEnv, orderCreatedVersionsFromEnv } from '../../shared/config/order-versions.ts'
import { apiKeysFromEnv } from '../../shared/http/api-keys.ts'
import { rateLimitSettings } from '../../shared/http/rate-limit.ts'
import {
  laneSignalHoldMsFromEnv,
  nkeySeedFromEnv,
  recordKeysFromEnv,
  recordSealsFromEnv,
} from '../../shared/config/nats-settings.ts'
import { natsAuthOptions } from '../../shared/security/nats-identity.ts'
import { fingerprintKeyFromEnv, publicJwkFromEnv } from '../../shared/security/key-config.ts'
import { BUCKETS } from '../../schemas/subjects.ts'
import {
  ConfigError,
  currencyFromEnv,
  intFromEnv,
  loadConfig,
  logLevelFromEnv,
  urlListFromEnv,
} from '../../shared/config/load-config.ts'

/** NATS over WebSocket only: the edge has no TCP client. */
const wsUrls = urlListFromEnv(
  /^wss?:\/\/[^\s]+$/,
  'must be ws:// or wss:// URLs (the NATS websocket listener)',
)

const secret = v.optional(v.pipe(v.string(), v.minLength(1)))

/** The order intake at the edge (Workers vars and secrets, or Deno Deploy env). */
export const EdgeOrderConfigSchema = v.object({
  NATS_URL: wsUrls,
  /** Budget of one request's NATS work, connect included; past it the answer is 503. */
  NATS_REQUEST_TIMEOUT_MS: intFromEnv(2_000, 100, 30_000),
  /** The `order-edge` NATS identity: a user NKEY seed (a Workers secret); wins over the others. */
  NATS_NKEY_SEED: nkeySeedFromEnv,
  /** Auth: a token, or user and password (Workers secrets). */
  NATS_TOKEN: secret,
  NATS_USER: secret,
  NATS_PASSWORD: secret,
  LOG_LEVEL: logLevelFromEnv,
  /** Above 0, an express order is announced to the workers before its event (docs/priority.md); 0: not. */
  LANE_SIGNAL_HOLD_MS: laneSignalHoldMsFromEnv,
  /** The payment service's public key (P-256 JWK): card tokens are sealed with it. */
  PAYMENT_TOKEN_PUBLIC_KEY: publicJwkFromEnv,
  /** Keys the idempotency records' request digest (a Workers secret); unset: derived from the NATS secret. */
  IDEMPOTENCY_FINGERPRINT_KEY: fingerprintKeyFromEnv,
  /** The keys of the order-status and idempotency buckets' record seals (a Workers secret; docs/security.md). */
  RECORD_KEYS: recordKeysFromEnv,
  RECORD_SEALS: recordSealsFromEnv,
  ORDER_MAX_BODY_BYTES: intFromEnv(64 * 1024, 1024, 16 * 1024 * 1024),
  ORDER_RETRY_AFTER_SECONDS: intFromEnv(1, 1, 3600),
  /** How long GET /orders/{id} waits for the projection to show an order minted moments ago. */
  ORDER_STATUS_WAIT_MS: intFromEnv(1_000, 0, 10_000),
  /** Versions of orders.created published: `2` (default), `1,2` (the migration window of an upgrade), or `1` (docs/contracts.md). */
  ORDER_CREATED_VERSIONS: orderCreatedVersionsFromEnv,
  /** Ids of client API keys that may place `express` orders (comma separated); admin keys always may. */
  ORDER_EXPRESS_KEYS: keyIdSetFromEnv,
  /**
   * The shop's currency (ISO 4217), the stock prices' (INVENTORY_CURRENCY):
   * a version 2 order in another currency is refused (422 unsupported_currency).
   */
  ORDER_CURRENCY: currencyFromEnv,
  /** `<id>:<role>:<sha256 hex>` entries (a Workers secret): both order routes want a key. */
  API_KEYS: apiKeysFromEnv,
  /** Per key id and per client address (failed attempts), in one isolate only. */
  ...rateLimitSettings,
})

export type EdgeOrderConfig = v.InferOutput<typeof EdgeOrderConfigSchema>

export function loadEdgeOrderConfig(env: Readonly<Record<string, string | undefined>>): EdgeOrderConfig {
  const config = loadConfig(EdgeOrderConfigSchema, env)
  // The intake reads and writes both: given at all, RECORD_KEYS must hold both keys.
  const missing = [BUCKETS.orderStatus, BUCKETS.idempotency].filter(
    (bucket) => config.RECORD_KEYS !== undefined && !config.RECORD_KEYS.has(bucket),
  )
  const problems = missing.map(
    (b) => `RECORD_KEYS has no key for the bucket ${b}, which the intake reads or writes`,
  )
  // One half of a user and password would connect anonymously: refused, not guessed.
  if ((config.NATS_USER === undefined) !== (config.NATS_PASSWORD === undefined))
    problems.push(
      `${config.NATS_USER === undefined ? 'NATS_PASSWORD' : 'NATS_USER'} is set without ${config.NATS_USER === undefined ? 'NATS_USER' : 'NATS_PASSWORD'}: set both, or neither`,
    )
  if (problems.length > 0) throw new ConfigError(problems)
  return config
}

/** Client auth options from the config (NKEY seed, then token, then user and password). */
export function toNatsAuth(config: EdgeOrderConfig): Partial<ConnectionOptions> {
  if (config.NATS_NKEY_SEED !== undefined) return natsAuthOptions(config.NATS_NKEY_SEED)
  if (config.NATS_TOKEN !== undefined) return { token: config.NATS_TOKEN }
  if (config.NATS_USER !== undefined && config.NATS_PASSWORD !== undefined) {
    return { user: config.NATS_USER, pass: config.NATS_PASSWORD }
  }
  return {}
}

/** What keys the idempotency digest: its own setting (`new` or `new,old`), else the NATS secret in use. */
export function fingerprintSecrets(
  config: EdgeOrderConfig,
): [keys: string | undefined, fallback: string | undefined] {
  return [
    config.IDEMPOTENCY_FINGERPRINT_KEY,
    config.NATS_NKEY_SEED ?? config.NATS_TOKEN ?? config.NATS_PASSWORD,
  ]
}
