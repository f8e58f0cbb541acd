/**
 * Label values that come from outside the code (message subjects, HTTP
 * methods, route patterns, status codes) pass through these before they reach
 * a metric, so nobody can add series by sending invented subjects, methods or
 * paths: anything unknown becomes `other`.
 */
import {
  LANE_SUBJECTS,
  laneSubject,
  SUBJECTS,
  toDeadLetterSubject,
  toDeadlineFiredSubject,
} from '../../schemas/subjects.ts'
import type { LabelValues } from './metrics-port.ts'

export const OTHER = 'other'

/**
 * JetStream advisories the dead-letter capture consumes
 * (shared/nats/dead-letter-advisory.ts `ADVISORY_PREFIXES`): the server
 * appends `.<stream>.<consumer>`, which the label leaves out.
 */
export const ADVISORY_LABEL_PREFIXES = [
  '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES',
  '$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED',
] as const

/** Every event subject, and its express lane's (`orders.created.express`, docs/priority.md). */
const EVENT_SUBJECTS: readonly string[] = [
  ...Object.values(SUBJECTS),
  ...LANE_SUBJECTS.map((subject) => laneSubject(subject, 'express')),
]
/** Due deadlines, as the inventory worker's relay reads them (`deadlines.fired.orders.cancel_requested[.express]`). */
const FIRED_DEADLINES = [
  SUBJECTS.orderCancelRequested,
  laneSubject(SUBJECTS.orderCancelRequested, 'express'),
].map(toDeadlineFiredSubject)
/** Every subject a message may be dead-lettered from: what `dead_letters_waiting` reports from the start, at 0. */
export const DEAD_LETTER_ORIGINS: readonly string[] = [...EVENT_SUBJECTS, ...FIRED_DEADLINES]
const KNOWN_SUBJECTS = new Set<string>(
  [...EVENT_SUBJECTS, ...FIRED_DEADLINES].flatMap((subject) => [subject, toDeadLetterSubject(subject)]),
)

/** The saga's subjects (both lanes, and fired deadlines) and their dead-letter subjects as they are; an advisory by its kind; else `other`. */
export function subjectLabel(subject: string): string {
  if (KNOWN_SUBJECTS.has(subject)) return subject
  const advisory = ADVISORY_LABEL_PREFIXES.find((prefix) => subject.startsWith(`${prefix}.`))
  return advisory ?? OTHER
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'])

export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : OTHER
}

/** A three-digit status code, else `other`. */
export function statusLabel(status: string | number): string {
  const text = String(status)
  return /^[1-5]\d\d$/.test(text) ? text : OTHER
}

/**
 * A matched route pattern (never a raw path: callers pass Hono's
 * `routePath`); the catch-all of middleware means nothing matched.
 */
export function routeLabel(pattern: string): string {
  if (pattern === '' || pattern === '*' || pattern === '/*') return 'unmatched'
  // Patterns come from the code, but keep even a mistake bounded in length.
  return pattern.length <= 64 ? pattern : OTHER
}

/** The reasons a dead letter is labelled with; any other is `other`. */
export const DEAD_LETTER_REASON_LABELS = [
  'malformed_json',
  'schema_violation',
  'unexpected_subject',
  'unexpected_origin',
  'max_deliver_exhausted',
  'terminated',
] as const
const DEAD_LETTER_REASONS = new Set<string>(DEAD_LETTER_REASON_LABELS)

/** A dead letter's reason (`Dlq-Reason` up to its first `:`) if known, else `other`. */
export function deadLetterReasonLabel(reason: string): string {
  const kind = reason.split(':', 1)[0]?.trim() ?? ''
  return DEAD_LETTER_REASONS.has(kind) ? kind : OTHER
}

const BOUNDERS: Readonly<Record<string, (value: string) => string>> = {
  subject: subjectLabel,
  method: methodLabel,
  status: statusLabel,
  route: routeLabel,
}

/** A label set with every label fed from outside bounded; other labels unchanged. */
export function boundLabels<L extends string>(labels: LabelValues<L>): LabelValues<L> {
  const out: LabelValues<string> = {}
  for (const [name, value] of Object.entries<string | number | undefined>(labels)) {
    if (value === undefined) continue
    const bound = BOUNDERS[name]
    out[name] = bound ? bound(String(value)) : value
  }
  return out
}
