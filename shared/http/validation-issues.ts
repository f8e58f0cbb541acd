import * as v from 'valibot'

export interface IssueView {
  path: string
  message: string
}

/** Valibot issues as `{ path, message }` with plain messages for missing and unknown fields. */
export function toIssueViews(issues: readonly v.BaseIssue<unknown>[]): IssueView[] {
  return issues.map((issue) => {
    const path = v.getDotPath(issue) ?? ''
    let message = issue.message
    if (issue.kind === 'schema' && issue.received === 'undefined' && issue.type !== 'undefined') {
      message = 'is required'
    } else if (issue.expected === 'never') {
      message = 'is not an allowed field'
    }
    return { path, message }
  })
}
