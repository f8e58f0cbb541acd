/*
 * Checks between settings (one against another), reported with every other
 * problem of the environment, not only once the rest is valid. A module of
 * its own: the edge intake's bundle has no use for it.
 */
import * as v from 'valibot'
import { ConfigError, loadConfig } from './load-config.ts'
import { natsSettings, orderDeadlineMsFromEnv, retentionProblems } from './nats-settings.ts'

type Env = Readonly<Record<string, string | undefined>>

/** The settings a check reads, and the problems it finds in them. */
export interface CrossCheck<T extends Record<string, unknown>> {
  readonly settings: v.GenericSchema<Record<string, unknown>, T>
  readonly problems: (settings: T) => string[]
}

/**
 * The check's problems from the environment alone, whatever else of it is
 * wrong; none when a setting it reads is itself not valid (that problem is
 * reported on its own).
 */
export function crossProblemsOfEnv<T extends Record<string, unknown>>(
  check: CrossCheck<T>,
  env: Env,
): string[] {
  try {
    return check.problems(loadConfig(check.settings, env))
  } catch (error) {
    if (error instanceof ConfigError) return []
    throw error
  }
}

/** {@link loadConfig}, then the check: every problem at once, the check's among the others. */
export function loadCheckedConfig<
  T extends Record<string, unknown>,
  S extends v.GenericSchema<Record<string, unknown>, T>,
>(schema: S, env: Env, check: CrossCheck<T>): v.InferOutput<S> {
  let config: v.InferOutput<S>
  try {
    config = loadConfig(schema, env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    throw new ConfigError([...error.problems, ...crossProblemsOfEnv(check, env)])
  }
  const problems = check.problems(config)
  if (problems.length > 0) throw new ConfigError(problems)
  return config
}

/** {@link retentionProblems} over the four settings it compares. */
export const RETENTION_CHECK: CrossCheck<Parameters<typeof retentionProblems>[0]> = {
  settings: v.object({
    STREAM_MAX_AGE_MS: natsSettings.STREAM_MAX_AGE_MS,
    STREAM_DUPLICATE_WINDOW_MS: natsSettings.STREAM_DUPLICATE_WINDOW_MS,
    CONSUMER_ACK_WAIT_MS: natsSettings.CONSUMER_ACK_WAIT_MS,
    ORDER_DEADLINE_MS: orderDeadlineMsFromEnv,
  }),
  problems: retentionProblems,
}
