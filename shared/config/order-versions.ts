import * as v from 'valibot'

export type OrderCreatedVersion = 1 | 2

/**
 * ORDER_CREATED_VERSIONS: the versions of `orders.created` the intake
 * publishes. `1,2` (default) during the migration to version 2: each order in
 * both, atomically; `2` once every reader reads version 2; `1` to roll back
 * to before the migration (docs/contracts.md has the runbook).
 */
export const orderCreatedVersionsFromEnv = v.pipe(
  v.optional(v.picklist(['1', '1,2', '2'], 'must be 1, 1,2 or 2'), '1,2'),
  v.transform((value): readonly OrderCreatedVersion[] =>
    value === '1,2' ? [1, 2] : value === '2' ? [2] : [1],
  ),
)
