import * as v from 'valibot'
import { keyIdSetFromEnv, orderCreatedVersionsFromEnv } from '../../shared/config/order-versions.ts'
import {
  bindHostFromEnv,
  currencyFromEnv,
  intFromEnv,
  logLevelFromEnv,
} from '../../shared/config/load-config.ts'
import { natsSettings } from '../../shared/config/nats-settings.ts'
import { apiKeysFromEnv } from '../../shared/http/api-keys.ts'
import { rateLimitSettings } from '../../shared/http/rate-limit.ts'
import { fingerprintKeyFromEnv, publicJwkFromEnv } from '../../shared/security/key-config.ts'
import { loadCheckedConfig } from '../../shared/config/cross-checks.ts'
import { EXPRESS_KEYS_CHECK } from './express-keys.ts'

export const OrderConfigSchema = v.object({
  PORT: intFromEnv(3000, 0, 65535),
  HOST: bindHostFromEnv,
  LOG_LEVEL: logLevelFromEnv,
  ...natsSettings,
  /** Largest request body on any route. */
  ORDER_MAX_BODY_BYTES: intFromEnv(64 * 1024, 1024, 16 * 1024 * 1024),
  /** `Retry-After` seconds on 503. */
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
  /** The payment service's public key (a P-256 JWK): card tokens are sealed with it. Or PAYMENT_TOKEN_PUBLIC_KEY_FILE. */
  PAYMENT_TOKEN_PUBLIC_KEY: publicJwkFromEnv,
  /**
   * Keys the request digest of idempotency records (HMAC), so a reader of the
   * bucket cannot test card-token guesses; the same on every intake. Unset: a
   * key derived from NATS_NKEY_SEED. Or IDEMPOTENCY_FINGERPRINT_KEY_FILE.
   */
  IDEMPOTENCY_FINGERPRINT_KEY: fingerprintKeyFromEnv,
  /** Run the order-status projection consumer in this process. */
  ORDER_PROJECTION: v.optional(v.picklist(['on', 'off'], 'must be on or off'), 'on'),
  /** `<id>:<role>:<sha256 hex>` entries, comma or newline separated; both order routes want a key. Or API_KEYS_FILE. */
  API_KEYS: apiKeysFromEnv,
  /** Per key id and per client address (failed attempts), in this process only. */
  ...rateLimitSettings,
})

export type OrderConfig = v.InferOutput<typeof OrderConfigSchema>

export function loadOrderConfig(env: Readonly<Record<string, string | undefined>>): OrderConfig {
  return loadCheckedConfig(OrderConfigSchema, env, EXPRESS_KEYS_CHECK)
}
