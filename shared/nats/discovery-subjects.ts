/*
 * Subjects of discovery (discovery.ts) without the services library, for the
 * access table (shared/security/access.ts) and tests.
 */

/** The status endpoint's subject prefix: `saga.status.<service>`. */
export const STATUS_SUBJECT_PREFIX = 'saga.status'

export const statusSubjectOf = (service: string): string => `${STATUS_SUBJECT_PREFIX}.${service}`

/** Where a service takes the console's dead-letter replays: `saga.replay.<service>` (replay-delegate.ts). */
export const replaySubjectOf = (service: string): string => `saga.replay.${service}`
