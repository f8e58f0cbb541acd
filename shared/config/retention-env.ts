/*
 * The retention settings' cross-checks, read from the environment on their
 * own (a module of its own: the edge intake's bundle has no use for it).
 */
import * as v from 'valibot'
import { ConfigError, loadConfig } from './load-config.ts'
import { natsSettings, orderDeadlineMsFromEnv, retentionProblems } from './nats-settings.ts'

/**
 * {@link retentionProblems} of the four settings alone, whatever else of the
 * environment is wrong: a start refused for another setting names these too
 * (every problem at once). None when one of the four is itself not valid
 * (its own problem is reported).
 */
export function retentionProblemsOfEnv(env: Readonly<Record<string, string | undefined>>): string[] {
  try {
    return retentionProblems(
      loadConfig(
        v.object({
          STREAM_MAX_AGE_MS: natsSettings.STREAM_MAX_AGE_MS,
          STREAM_DUPLICATE_WINDOW_MS: natsSettings.STREAM_DUPLICATE_WINDOW_MS,
          CONSUMER_ACK_WAIT_MS: natsSettings.CONSUMER_ACK_WAIT_MS,
          ORDER_DEADLINE_MS: orderDeadlineMsFromEnv,
        }),
        env,
      ),
    )
  } catch (error) {
    if (error instanceof ConfigError) return []
    throw error
  }
}
