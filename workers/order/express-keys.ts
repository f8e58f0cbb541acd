/**
 * ORDER_EXPRESS_KEYS against API_KEYS: an id there that names no key of this
 * service would give nobody express, silently (a typo, a key since removed).
 * The edge intake does not check it (its bundle is at its size budget).
 */
import * as v from 'valibot'
import type { CrossCheck } from '../../shared/config/cross-checks.ts'
import { keyIdSetFromEnv } from '../../shared/config/order-versions.ts'
import { apiKeysFromEnv } from '../../shared/http/api-keys.ts'

const ExpressKeysSchema = v.object({ ORDER_EXPRESS_KEYS: keyIdSetFromEnv, API_KEYS: apiKeysFromEnv })

/** Ids of ORDER_EXPRESS_KEYS that are no key of API_KEYS, said as one problem each. */
export const EXPRESS_KEYS_CHECK: CrossCheck<v.InferOutput<typeof ExpressKeysSchema>> = {
  settings: ExpressKeysSchema,
  problems: (config) => {
    const ids = new Set(config.API_KEYS.map((key) => key.id))
    return [...config.ORDER_EXPRESS_KEYS]
      .filter((id) => !ids.has(id))
      .map(
        (id) =>
          `ORDER_EXPRESS_KEYS: ${JSON.stringify(id)} is not the id of a key in API_KEYS (${[...ids].join(', ')})`,
      )
  },
}
