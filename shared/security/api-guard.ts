/*
 * The JetStream API guard, part of the nats-server configuration the
 * project generates (nats-auth-config.ts).
 *
 * nats-server sends what JetStream answers (a pull's status, an ack's
 * confirmation, a direct get) to the reply subject its requester named, and
 * does not check that subject against the requester's permissions. Such an
 * answer sent to a JetStream API subject is executed as a request of the
 * account itself: a pull with `no_wait` on a consumer with nothing pending,
 * its reply subject `$JS.API.STREAM.DELETE.ORDERS`, gets an empty "404 No
 * Messages" status there, and an empty body is a complete stream delete (or a
 * purge of everything, or a consumer delete). So any identity that may pull
 * from one consumer could delete every stream (docs/security.md, "JetStream
 * answers go where the requester says").
 *
 * Every JetStream API request passes through the system account's export of
 * `$JS.API.>`, and that account's subject mappings apply to it. The guard
 * maps the destructive requests on the project's streams to a subject no
 * server answers: nobody, admin included, can delete one of these streams,
 * purge it, or delete a consumer on it while the guard is on. Changing that
 * (recreating a stream, removing a consumer) is a maintenance step: render
 * the configuration with `NATS_API_GUARD=off`, reload nats-server, do it,
 * turn the guard back on (docs/operations.md).
 *
 * Left open, by design: purges of `ORDER_INDEX` (the console's index purges
 * by subject), stepdowns, pauses. What the guard does not cover is listed in
 * docs/security.md.
 */
import { BUCKETS } from '../../schemas/subjects.ts'
import { ORDER_INDEX } from '../nats/order-index.ts'
import { PROVISIONED_STREAMS } from '../nats/provision.ts'

/** Where a guarded request goes instead: nothing subscribes to it. */
export const GUARDED_PREFIX = '$JS.GUARDED'

/** Every stream the provision step makes, the KV buckets' included. */
export const GUARDED_STREAMS: readonly string[] = [
  ...PROVISIONED_STREAMS,
  ...Object.values(BUCKETS).map((bucket) => `KV_${bucket}`),
]

/** Purged by subject by the project's own tools: the console's index writer (the dead-letter purge deletes message by message). */
const PURGED_BY_TOOLS: ReadonlySet<string> = new Set([ORDER_INDEX.stream])

/** The API subjects the guard maps away, each with where it goes. */
export function guardedApiSubjects(): readonly (readonly [from: string, to: string])[] {
  return GUARDED_STREAMS.flatMap((stream) => [
    [`$JS.API.STREAM.DELETE.${stream}`, `${GUARDED_PREFIX}.STREAM.DELETE.${stream}`] as const,
    ...(PURGED_BY_TOOLS.has(stream)
      ? []
      : [[`$JS.API.STREAM.PURGE.${stream}`, `${GUARDED_PREFIX}.STREAM.PURGE.${stream}`] as const]),
    [
      `$JS.API.CONSUMER.DELETE.${stream}.*`,
      `${GUARDED_PREFIX}.CONSUMER.DELETE.${stream}.{{wildcard(1)}}`,
    ] as const,
  ])
}

/**
 * The system account, `$SYS` (nats-server's default name: a cluster keeps its
 * JetStream meta state under the system account's name, so another name would
 * move it), declared with the guard's mappings, or with none (`on: false`).
 * Only the mappings change between the two, and a configuration reload
 * applies them (`nats-server --signal reload`).
 */
export function renderApiGuard({ on = true }: { on?: boolean } = {}): string {
  const q = (s: string): string => JSON.stringify(s)
  const mappings = on ? guardedApiSubjects().map(([from, to]) => `      ${q(from)}: ${q(to)}`) : []
  return [
    on
      ? '# JetStream API guard (shared/security/api-guard.ts): no stream of the saga can be deleted or'
      : '# JetStream API guard OFF (NATS_API_GUARD=off, a maintenance window): streams and consumers of',
    on
      ? '# purged, nor a consumer on one deleted, through any identity, while these mappings are here.'
      : '# the saga can be deleted or purged through any identity. Render again without it and reload.',
    'accounts {',
    '  "$SYS": {',
    '    mappings: {',
    ...mappings,
    '    }',
    '  }',
    '}',
    'system_account: "$SYS"',
    '',
  ].join('\n')
}

/** `NATS_API_GUARD`: `on` (default) or `off` (a maintenance window; docs/operations.md). */
export function apiGuardFromEnv(env: Readonly<Record<string, string | undefined>>): boolean {
  const value = (env['NATS_API_GUARD'] ?? '').trim()
  if (value === '' || value === 'on') return true
  if (value === 'off') return false
  throw new Error(`NATS_API_GUARD must be on or off (got ${JSON.stringify(value)})`)
}

/** `NATS_API_GUARD`'s problem, if any, for a list of everything wrong before a start. */
export function apiGuardProblems(env: Readonly<Record<string, string | undefined>>): string[] {
  try {
    apiGuardFromEnv(env)
    return []
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)]
  }
}
