/**
 * What a dead letter's reason says of a payload that would not parse: where
 * and what was wrong, never the values it held. The reason goes into the
 * `Dlq-Reason` header and the worker's log line, and a payload published by
 * mistake may carry what must never be logged (a card token in the wrong
 * field).
 */
import * as v from 'valibot'

/** The parser's message with every quoted fragment of the payload masked. */
export function jsonErrorDetail(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.replace(/(["'`])(?:(?!\1).)*\1/g, '$1…$1')
}

/** Each issue as `path: what was expected`, valibot's "but received <value>" left out. */
export function schemaIssuesDetail(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .map(
      (issue) => `${v.getDotPath(issue) ?? '(root)'}: ${issue.message.replace(/ but received [\s\S]*$/, '')}`,
    )
    .join('; ')
}
