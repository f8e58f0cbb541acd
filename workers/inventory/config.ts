import * as v from 'valibot'
import {
  bindHostFromEnv,
  currencyFromEnv,
  intFromEnv,
  logLevelFromEnv,
} from '../../shared/config/load-config.ts'
import { natsSettings, orderDeadlineMsFromEnv } from '../../shared/config/nats-settings.ts'
import { loadCheckedConfig, RETENTION_CHECK } from '../../shared/config/cross-checks.ts'
import { apiKeysFromEnv } from '../../shared/http/api-keys.ts'
import { rateLimitSettings } from '../../shared/http/rate-limit.ts'

export const InventoryConfigSchema = v.object({
  PORT: intFromEnv(3001, 0, 65535),
  HOST: bindHostFromEnv,
  LOG_LEVEL: logLevelFromEnv,
  ...natsSettings,
  /** ISO 4217 code of the stock prices. */
  INVENTORY_CURRENCY: currencyFromEnv,
  /** `<id>:<role>:<sha256 hex>` entries, comma or newline separated; PUT /inventory/{sku} wants an admin key. Or API_KEYS_FILE. */
  API_KEYS: apiKeysFromEnv,
  /** Largest request body on any route. */
  INVENTORY_MAX_BODY_BYTES: intFromEnv(16 * 1024, 1024, 1024 * 1024),
  /**
   * Every order is settled (confirmed or cancelled) within this of its
   * creation, or cancelled `deadline_exceeded`: holds released, any charge
   * refunded. Longer than the payment worker's PAYMENT_SETTLE_BUDGET_MS.
   */
  ORDER_DEADLINE_MS: orderDeadlineMsFromEnv,
  /** Admin writes per key id and failed attempts per client address, in this process only. */
  ...rateLimitSettings,
})

export type InventoryConfig = v.InferOutput<typeof InventoryConfigSchema>

export function loadInventoryConfig(env: Readonly<Record<string, string | undefined>>): InventoryConfig {
  return loadCheckedConfig(InventoryConfigSchema, env, RETENTION_CHECK)
}
