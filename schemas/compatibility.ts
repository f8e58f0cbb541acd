/*
 * The compatibility check of published contract versions (docs/contracts.md):
 * today's generated JSON Schema of every published version, compared with its
 * frozen copy in schemas/published/, must not break that version's existing
 * readers or writers.
 */
import { subsetDifferences, type Difference, type JsonSchema } from './json-schema-subset.ts'

/**
 * Who reads a contract decides which direction matters:
 * - `event`: old readers read new events, and new readers read old events
 *   still in the stream: both directions.
 * - `request`: the service must accept every body old clients send.
 * - `response`: old clients must accept every body the service sends.
 */
export type ContractRole = 'event' | 'request' | 'response'

/** Contracts that are not events, by file name without `.v<N>.json`. */
export const CONTRACT_ROLES: Readonly<Record<string, ContractRole>> = {
  'create-order-request': 'request',
  'order-status': 'response',
}

export interface ContractFile {
  /** `order-created` of `order-created.v1.json`. */
  name: string
  version: number
}

/** `order-created.v1.json` -> `{ name: 'order-created', version: 1 }`; undefined for other names. */
export function parseContractFile(file: string): ContractFile | undefined {
  const match = /^([a-z0-9-]+)\.v([1-9][0-9]*)\.json$/.exec(file)
  return match?.[1] === undefined ? undefined : { name: match[1], version: Number(match[2]) }
}

export function roleOf(file: string): ContractRole {
  const parsed = parseContractFile(file)
  return (parsed && CONTRACT_ROLES[parsed.name]) ?? 'event'
}

export interface Breaking extends Difference {
  file: string
  /** Whose documents would be refused. */
  breaks: string
  /** One line naming the contract, version, field and change. */
  message: string
}

/** What today's schema of a published version changes that breaks its readers or writers. */
export function breakingChanges(file: string, published: JsonSchema, today: JsonSchema): Breaking[] {
  const role = roleOf(file)
  const checks: { breaks: string; found: Difference[] }[] = []
  if (role === 'event' || role === 'request') {
    // Everything valid under the published version must stay valid today.
    const breaks = role === 'event' ? 'new readers of old events' : "old clients' requests"
    checks.push({ breaks, found: subsetDifferences(published, today, 'a') })
  }
  if (role === 'event' || role === 'response') {
    // Everything valid today must be valid under the published version.
    const breaks = role === 'event' ? 'old readers of new events' : 'old clients reading responses'
    checks.push({ breaks, found: subsetDifferences(today, published, 'b') })
  }
  const title = titleOf(file, published)
  return checks.flatMap(({ breaks, found }) =>
    found.map((d) => ({
      ...d,
      file,
      breaks,
      message: `${title} (${file}) field "${d.path}": ${d.change}; breaks ${breaks}`,
    })),
  )
}

function titleOf(file: string, schema: JsonSchema): string {
  if (typeof schema === 'object' && typeof schema['title'] === 'string') return schema['title']
  const parsed = parseContractFile(file)
  return parsed ? `${parsed.name} v${parsed.version}` : file
}

export interface CheckReport {
  breaking: Breaking[]
  /** Published versions that are no longer generated (their readers and writers still exist). */
  missing: string[]
  /** Generated versions with no frozen copy yet (`npm run schemas:publish`). */
  unpublished: string[]
}

/** Compares every published file (name -> JSON text) with today's generated ones. */
export function checkPublished(
  published: ReadonlyMap<string, string>,
  today: ReadonlyMap<string, string>,
): CheckReport {
  const report: CheckReport = { breaking: [], missing: [], unpublished: [] }
  for (const [file, text] of published) {
    const current = today.get(file)
    if (current === undefined) report.missing.push(file)
    else report.breaking.push(...breakingChanges(file, parse(text), parse(current)))
  }
  report.unpublished = [...today.keys()].filter((f) => !published.has(f)).sort()
  return report
}

const parse = (text: string) => JSON.parse(text) as JsonSchema

/** Human-readable lines of a report; empty when everything is compatible and published. */
export function describeReport(report: CheckReport): string[] {
  return [
    ...report.breaking.map((b) => b.message),
    ...report.missing.map((f) => `${f} is published but no longer generated: a published version is kept`),
    ...report.unpublished.map(
      (f) => `${f} has no frozen copy in schemas/published/: run \`npm run schemas:publish\``,
    ),
  ]
}
