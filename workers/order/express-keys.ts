/**
 * ORDER_EXPRESS_KEYS against API_KEYS: an id there that names no key of this
 * service would give nobody express, silently (a typo, a key since removed).
 * The edge intake does not check it (its bundle is at its size budget).
 */
import * as v from 'valibot'
import { ConfigError, loadConfig } from '../../shared/config/load-config.ts'
import { keyIdSetFromEnv } from '../../shared/config/order-versions.ts'
import { apiKeysFromEnv } from '../../shared/http/api-keys.ts'

const ExpressKeysSchema = v.object({ ORDER_EXPRESS_KEYS: keyIdSetFromEnv, API_KEYS: apiKeysFromEnv })

/** Ids of ORDER_EXPRESS_KEYS that are no key of API_KEYS, said as one problem each. */
export function expressKeyProblems(config: v.InferOutput<typeof ExpressKeysSchema>): string[] {
  const ids = new Set(config.API_KEYS.map((key) => key.id))
  return [...config.ORDER_EXPRESS_KEYS]
    .filter((id) => !ids.has(id))
    .map(
      (id) =>
        `ORDER_EXPRESS_KEYS: ${JSON.stringify(id)} is not the id of a key in API_KEYS (${[...ids].join(', ')})`,
    )
}

/** The same from the environment alone, whatever else is wrong (none when either setting is itself not valid). */
export function expressKeyProblemsOfEnv(env: Readonly<Record<string, string | undefined>>): string[] {
  try {
    return expressKeyProblems(loadConfig(ExpressKeysSchema, env))
  } catch (error) {
    if (error instanceof ConfigError) return []
    throw error
  }
}
