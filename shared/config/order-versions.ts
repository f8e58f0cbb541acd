import * as v from 'valibot'

export type OrderCreatedVersion = 1 | 2

/**
 * ORDER_CREATED_VERSIONS: the versions of `orders.created` the intake
 * publishes. `2` (default): every reader of this release reads version 2.
 * `1,2` while readers of the previous release still run (the migration
 * window of an upgrade): each order in both versions, one atomic batch;
 * `1` to roll back (docs/contracts.md has the runbook). The window costs: an
 * atomic batch is synced to disk on commit (~5 ms here, against ~0.4 ms for
 * one publish) and a stream takes 50 open batches at once.
 */
export const orderCreatedVersionsFromEnv = v.pipe(
  v.optional(v.picklist(['1', '1,2', '2'], 'must be 1, 1,2 or 2'), '2'),
  v.transform((value): readonly OrderCreatedVersion[] =>
    value === '1,2' ? [1, 2] : value === '2' ? [2] : [1],
  ),
)

/** A comma-separated list of API key ids (`ORDER_EXPRESS_KEYS`); empty by default. */
export const keyIdSetFromEnv = v.pipe(
  v.optional(v.string(), ''),
  v.transform((value) =>
    value
      .split(',')
      .map((id) => id.trim())
      .filter((id) => id !== ''),
  ),
  v.check(
    (ids) => ids.every((id) => /^[a-z0-9][a-z0-9_-]{0,63}$/.test(id)),
    'must be API key ids (a-z, 0-9, _ and -), comma separated',
  ),
  v.transform((ids): ReadonlySet<string> => new Set(ids)),
)
