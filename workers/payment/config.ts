import * as v from 'valibot'
import {
  bindHostFromEnv,
  fractionFromEnv,
  intFromEnv,
  loadConfig,
  logLevelFromEnv,
} from '../../shared/config/load-config.ts'
import { natsSettings } from '../../shared/config/nats-settings.ts'
import { secretKeyFromEnv } from '../../shared/http/api-keys.ts'
import { jwkListFromEnv } from '../../shared/security/key-config.ts'

export const PaymentConfigSchema = v.object({
  PORT: intFromEnv(3002, 0, 65535),
  HOST: bindHostFromEnv,
  LOG_LEVEL: logLevelFromEnv,
  ...natsSettings,
  /** The private keys that open sealed card tokens (a P-256 JWK or a JSON array, current first). Or PAYMENT_TOKEN_PRIVATE_KEYS_FILE. */
  PAYMENT_TOKEN_PRIVATE_KEYS: jwkListFromEnv,
  PAYMENT_GATEWAY_URL: v.optional(
    v.pipe(v.string(), v.url('must be a URL'), v.regex(/^https?:\/\//, 'must be http(s)')),
    'http://127.0.0.1:3003',
  ),
  /** The gateway's secret key, sent as `Authorization: Bearer`. Or GATEWAY_SECRET_KEY_FILE. */
  GATEWAY_SECRET_KEY: secretKeyFromEnv,
  /** Deadline of one gateway call. */
  PAYMENT_TIMEOUT_MS: intFromEnv(2_000, 50, 60_000),
  /** Retries after the first call, for 5xx, 429, timeouts and refused connections. */
  PAYMENT_RETRIES: intFromEnv(3, 0, 20),
  PAYMENT_RETRY_INITIAL_DELAY_MS: intFromEnv(200, 1, 60_000),
  PAYMENT_RETRY_MAX_DELAY_MS: intFromEnv(2_000, 1, 300_000),
  /** Share of failed calls within the window that opens the circuit breaker. */
  PAYMENT_BREAKER_FAILURE_RATE: fractionFromEnv(0.5, 0.01, 1),
  /** The breaker's sampling window. */
  PAYMENT_BREAKER_WINDOW_MS: intFromEnv(10_000, 100, 600_000),
  /** Calls within the window below which the breaker never opens (quiet traffic). */
  PAYMENT_BREAKER_MIN_CALLS: intFromEnv(10, 1, 100_000),
  /** How long the breaker stays open before one trial call. */
  PAYMENT_BREAKER_HALF_OPEN_MS: intFromEnv(5_000, 100, 600_000),
  /** While the breaker is open nothing is pulled; an order already pulled waits this long at most, then fails. */
  PAYMENT_MAX_PAUSE_MS: intFromEnv(300_000, 0, 86_400_000),
})

export type PaymentConfig = v.InferOutput<typeof PaymentConfigSchema>

export function loadPaymentConfig(env: Readonly<Record<string, string | undefined>>): PaymentConfig {
  return loadConfig(PaymentConfigSchema, env)
}
