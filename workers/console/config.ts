import * as v from 'valibot'
import {
  baseUrlFromEnv,
  bindHostFromEnv,
  boolFromEnv,
  intFromEnv,
  loadConfig,
  logLevelFromEnv,
} from '../../shared/config/load-config.ts'
import { natsSettings } from '../../shared/config/nats-settings.ts'
import { apiKeysFromEnv } from '../../shared/http/api-keys.ts'
import { rateLimitSettings } from '../../shared/http/rate-limit.ts'

/** The operator console (`console`): docs/console.md. */
export const ConsoleConfigSchema = v.object({
  PORT: intFromEnv(3006, 0, 65535),
  HOST: bindHostFromEnv,
  LOG_LEVEL: logLevelFromEnv,
  ...natsSettings,
  /** `<id>:<role>:<sha256 hex>` entries; the console's API wants an admin key. Or API_KEYS_FILE. */
  API_KEYS: apiKeysFromEnv,
  /** Failed key attempts per client address (RATE_LIMIT_PER_SECOND, RATE_LIMIT_BURST); valid keys are not limited. */
  ...rateLimitSettings,
  /** The order service: the cancel action calls its POST /orders/{orderId}/cancel with the operator's key. */
  CONSOLE_ORDER_URL: baseUrlFromEnv('http://127.0.0.1:3000'),
  /** The payment service: the breaker's state is read from its /metrics. */
  CONSOLE_PAYMENT_URL: baseUrlFromEnv('http://127.0.0.1:3002'),
  /** Keep the order index in this process (one console per deployment should). */
  CONSOLE_INDEX: boolFromEnv(true),
  /** How long an order's changes are held before its index entry is written (coalesced). */
  CONSOLE_INDEX_DELAY_MS: intFromEnv(250, 0, 60_000),
  /** How often the live list sends a batch of changes to each browser. */
  CONSOLE_LIVE_INTERVAL_MS: intFromEnv(250, 50, 10_000),
})

export type ConsoleConfig = v.InferOutput<typeof ConsoleConfigSchema>

export function loadConsoleConfig(env: Readonly<Record<string, string | undefined>>): ConsoleConfig {
  return loadConfig(ConsoleConfigSchema, env)
}
