import * as v from 'valibot'
import { bindHostFromEnv, intFromEnv, loadConfig, logLevelFromEnv } from '../../shared/config/load-config.ts'
import { natsSettings } from '../../shared/config/nats-settings.ts'
import { apiKeysFromEnv } from '../../shared/http/api-keys.ts'
import { rateLimitSettings } from '../../shared/http/rate-limit.ts'
import { parseQueryTime, QUERY_TIME_MESSAGE } from './query-time.ts'

const DAY_MS = 86_400_000

export const AnalyticsConfigSchema = v.object({
  PORT: intFromEnv(3005, 0, 65535),
  HOST: bindHostFromEnv,
  LOG_LEVEL: logLevelFromEnv,
  ...natsSettings,
  /** `<id>:<role>:<sha256 hex>` entries, comma or newline separated; the analytics routes want an admin key. Or API_KEYS_FILE. */
  API_KEYS: apiKeysFromEnv,
  /**
   * Rebuild the windows from the minute of this time on (read as the
   * summary's `from`: ISO 8601, a date or epoch ms) before
   * consuming, into a fresh generation that then replaces the active one.
   * `analytics --from <time>` sets it. Every start with it set rebuilds again.
   */
  ANALYTICS_REPLAY_FROM: v.optional(
    v.pipe(
      v.string(),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        const ms = parseQueryTime(dataset.value)
        if (ms !== null) return new Date(ms)
        addIssue({ message: QUERY_TIME_MESSAGE })
        return NEVER
      }),
    ),
  ),
  /** A replay reads events stored this long before its first minute (clocks of publishers and server). */
  ANALYTICS_REPLAY_MARGIN_MS: intFromEnv(60_000, 0, DAY_MS),
  /** Longest range one GET /analytics/summary may ask for. */
  ANALYTICS_SUMMARY_MAX_RANGE_MS: intFromEnv(DAY_MS, 60_000, 31 * DAY_MS),
  /** Server-Sent Events clients at once (GET /analytics/stream); more get 503. */
  ANALYTICS_STREAM_MAX_CLIENTS: intFromEnv(100, 1, 10_000),
  /** A stream client gets the windows that changed at most this often. */
  ANALYTICS_STREAM_INTERVAL_MS: intFromEnv(250, 10, 60_000),
  /** A comment line keeps an idle stream open through proxies. */
  // Below the HTTP server's 30 s idle timeout (shared/runtime/server.ts), which would close an idle stream first.
  ANALYTICS_STREAM_HEARTBEAT_MS: intFromEnv(15_000, 1_000, 25_000),
  /** Admin reads per key id and failed attempts per client address, in this process only. */
  ...rateLimitSettings,
})

export type AnalyticsConfig = v.InferOutput<typeof AnalyticsConfigSchema>

export function loadAnalyticsConfig(env: Readonly<Record<string, string | undefined>>): AnalyticsConfig {
  return loadConfig(AnalyticsConfigSchema, env)
}
