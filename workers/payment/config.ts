import * as v from 'valibot'
import {
  baseUrlFromEnv,
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
  PAYMENT_GATEWAY_URL: baseUrlFromEnv('http://127.0.0.1:3003'),
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
  /** While the breaker is open nothing is pulled; an order already pulled waits this long at most, then is left unresolved (cancelled, and reconciled). */
  PAYMENT_MAX_PAUSE_MS: intFromEnv(300_000, 0, 86_400_000),
  /**
   * Started while the processor does not answer: nothing is pulled until it
   * does, or for this long at most (then as after any start: a held order's
   * deadline is kept). Restarts within it burn no delivery; an order's
   * deadline may be settled up to this much late. 0: no such wait.
   */
  PAYMENT_START_HOLD_MAX_MS: intFromEnv(60_000, 0, 3_600_000),
  /**
   * How long one charge is worked on (rounds of retries under the same key,
   * polls while the processor is still processing it) before it is left
   * unresolved: the order is cancelled `payment_failed` and reconciliation
   * keeps checking the key.
   */
  PAYMENT_SETTLE_BUDGET_MS: intFromEnv(30_000, 100, 3_600_000),
  /** Pause between two polls of a charge the processor is still processing. */
  PAYMENT_SETTLE_POLL_MS: intFromEnv(1_000, 10, 60_000),
  /** How often the reconciliation bucket is scanned. */
  PAYMENT_RECONCILE_INTERVAL_MS: intFromEnv(5_000, 50, 3_600_000),
  /** How long an unanswered charge key is looked up before it is closed as "no charge". */
  PAYMENT_RECONCILE_WINDOW_MS: intFromEnv(600_000, 10_000, 30 * 86_400_000),
  /** Longest pause between two checks of one reconciliation entry. */
  PAYMENT_RECONCILE_MAX_BACKOFF_MS: intFromEnv(300_000, 50, 86_400_000),
})

export type PaymentConfig = v.InferOutput<typeof PaymentConfigSchema>

/** The settings that bound one another, checked once each is valid on its own (listed with the rest). */
const PaymentConfigChecked = v.pipe(
  PaymentConfigSchema,
  v.forward(
    v.partialCheck(
      [['PAYMENT_RETRY_INITIAL_DELAY_MS'], ['PAYMENT_RETRY_MAX_DELAY_MS']],
      (c) => c.PAYMENT_RETRY_INITIAL_DELAY_MS <= c.PAYMENT_RETRY_MAX_DELAY_MS,
      'must be <= PAYMENT_RETRY_MAX_DELAY_MS',
    ),
    ['PAYMENT_RETRY_INITIAL_DELAY_MS'],
  ),
  // A budget shorter than one attempt would leave every charge that is slow to answer unresolved.
  v.forward(
    v.partialCheck(
      [['PAYMENT_SETTLE_BUDGET_MS'], ['PAYMENT_TIMEOUT_MS']],
      (c) => c.PAYMENT_SETTLE_BUDGET_MS >= c.PAYMENT_TIMEOUT_MS,
      'must be >= PAYMENT_TIMEOUT_MS (one attempt)',
    ),
    ['PAYMENT_SETTLE_BUDGET_MS'],
  ),
)

export function loadPaymentConfig(env: Readonly<Record<string, string | undefined>>): PaymentConfig {
  return loadConfig(PaymentConfigChecked, env)
}
