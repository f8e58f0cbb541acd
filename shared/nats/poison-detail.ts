/**
 * What a dead letter's reason says of a payload that would not parse: where
 * and what was wrong, never the values it held. The reason goes into the
 * `Dlq-Reason` header and the worker's log line, and a payload published by
 * mistake may carry what must never be logged (a card token in the wrong
 * field).
 */
import * as v from 'valibot'

/**
 * That the payload is not JSON, and where the parser stopped when it says so
 * (Node: `position n`). Not the parser's message: Node quotes the payload in
 * it, and no masking of quotes holds against a payload with quotes of its own.
 */
export function jsonErrorDetail(error: unknown, bytes: number): string {
  const message = error instanceof Error ? error.message : ''
  const position = / position (\d+)/.exec(message)?.[1]
  return `not valid JSON (${bytes} bytes${position === undefined ? '' : `, at position ${position}`})`
}

/** Each issue as `path: what was expected`, valibot's "but received <value>" left out. */
export function schemaIssuesDetail(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .map(
      (issue) => `${v.getDotPath(issue) ?? '(root)'}: ${issue.message.replace(/ but received [\s\S]*$/, '')}`,
    )
    .join('; ')
}
