import * as v from 'valibot'
import {
  ConfigError,
  bindHostFromEnv,
  currencyFromEnv,
  intFromEnv,
  loadConfig,
  logLevelFromEnv,
} from '../../shared/config/load-config.ts'
import { natsSettings, orderDeadlineMsFromEnv, retentionProblems } from '../../shared/config/nats-settings.ts'
import { retentionProblemsOfEnv } from '../../shared/config/retention-env.ts'
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
  let config: InventoryConfig
  try {
    config = loadConfig(InventoryConfigSchema, env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    throw new ConfigError([...error.problems, ...retentionProblemsOfEnv(env)])
  }
  const problems = retentionProblems(config)
  if (problems.length > 0) throw new ConfigError(problems)
  return config
}
