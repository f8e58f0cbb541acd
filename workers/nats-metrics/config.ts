import * as v from 'valibot'
import {
  bindHostFromEnv,
  intFromEnv,
  loadConfig,
  logLevelFromEnv,
  urlListFromEnv,
} from '../../shared/config/load-config.ts'

export const NatsMetricsConfigSchema = v.object({
  PORT: intFromEnv(7777, 0, 65535),
  HOST: bindHostFromEnv,
  LOG_LEVEL: logLevelFromEnv,
  /** Each nats-server's monitoring endpoint (`http: 8222` in its config), comma separated. */
  NATS_MONITOR_URLS: v.optional(
    urlListFromEnv(/^https?:\/\/[^\s]+$/, 'must be http:// or https:// URLs'),
    'http://127.0.0.1:8222',
  ),
  /** How long one scrape waits for each server's /varz and /jsz. */
  NATS_MONITOR_TIMEOUT_MS: intFromEnv(2_000, 100, 30_000),
  SHUTDOWN_TIMEOUT_MS: intFromEnv(5_000, 100, 120_000),
})

export type NatsMetricsConfig = v.InferOutput<typeof NatsMetricsConfigSchema>

export function loadNatsMetricsConfig(env: Readonly<Record<string, string | undefined>>): NatsMetricsConfig {
  return loadConfig(NatsMetricsConfigSchema, env)
}
