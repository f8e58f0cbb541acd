import * as v from 'valibot'

export interface IssueView {
  path: string
  message: string
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  Object: 'a JSON object',
  Array: 'an array',
}

/** Problems listed at most in one answer: a body of many bad items makes no answer many times its size. */
export const MAX_ISSUES = 100

/**
 * Valibot issues as `{ path, message }` (at most {@link MAX_ISSUES}: the
 * shallowest when there are more) with plain messages for missing and
 * unknown fields and for a value of the wrong type ("must be a number"):
 * Valibot's own ("Invalid type: Expected number but received "2"") quotes
 * the value back.
 */
export function toIssueViews(issues: readonly v.BaseIssue<unknown>[]): IssueView[] {
  // Over the cap, the problems nearest the top are kept (a list too long, a
  // field missing, an unknown one) before those of its hundredth bad item.
  const kept =
    issues.length <= MAX_ISSUES
      ? issues
      : issues
          .map((issue, order) => ({ issue, order, depth: issue.path?.length ?? 0 }))
          .sort((a, b) => a.depth - b.depth || a.order - b.order)
          .slice(0, MAX_ISSUES)
          .sort((a, b) => a.order - b.order)
          .map(({ issue }) => issue)
  return kept.map((issue) => {
    const path = v.getDotPath(issue) ?? ''
    let message = issue.message
    if (issue.kind === 'schema' && issue.received === 'undefined' && issue.type !== 'undefined') {
      message = 'is required'
    } else if (issue.expected === 'never') {
      message = 'is not an allowed field'
    } else if (issue.kind === 'schema' && message.startsWith('Invalid type:') && issue.expected !== null) {
      message = `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}`
    }
    return { path, message }
  })
}
