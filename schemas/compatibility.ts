/*
 * The compatibility check of published contract versions (docs/contracts.md):
 * today's generated JSON Schema of every published version, compared with
 * each of its frozen revisions in schemas/published/, must not break that
 * version's existing readers or writers, and a compatible change is frozen
 * as a new revision, so that what it added is checked from then on.
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
  /**
   * 1 for `order-created.v1.json`, M for a later frozen revision of the same
   * version, `order-created.v1.rM.json`: a compatible change (an optional
   * field added) frozen in turn, so the fields it added are checked too.
   */
  revision: number
  /** The version's file name, without the revision: `order-created.v1.json`. */
  versionFile: string
}

/** `order-created.v1.json` -> `{ name: 'order-created', version: 1, revision: 1 }`; undefined for other names. */
export function parseContractFile(file: string): ContractFile | undefined {
  const match = /^([a-z0-9-]+)\.v([1-9][0-9]*)(?:\.r([2-9]|[1-9][0-9]+))?\.json$/.exec(file)
  if (match?.[1] === undefined || match[2] === undefined) return undefined
  const [, name, version] = match
  return {
    name,
    version: Number(version),
    revision: match[3] === undefined ? 1 : Number(match[3]),
    versionFile: `${name}.v${version}.json`,
  }
}

/** The file of revision `revision` of a version's file (`order-created.v1.json`). */
export function revisionFile(versionFile: string, revision: number): string {
  return revision === 1 ? versionFile : versionFile.replace(/\.json$/, `.r${revision}.json`)
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
  /**
   * Generated versions changed compatibly since their last frozen revision,
   * with the file that would freeze them: until frozen, what the change added
   * is not checked by later runs.
   */
  unfrozen: { file: string; next: string }[]
}

/** The frozen revisions of each published version: version file -> revision files, oldest first. */
export function revisionsOf(published: ReadonlyMap<string, string>): Map<string, string[]> {
  const byVersion = new Map<string, { file: string; revision: number }[]>()
  for (const file of published.keys()) {
    const parsed = parseContractFile(file)
    const key = parsed?.versionFile ?? file
    byVersion.set(key, [...(byVersion.get(key) ?? []), { file, revision: parsed?.revision ?? 1 }])
  }
  return new Map(
    [...byVersion].map(([key, list]) => [
      key,
      list.sort((a, b) => a.revision - b.revision).map((r) => r.file),
    ]),
  )
}

/**
 * Compares every published file (name -> JSON text) with today's generated
 * ones: today's schema of a version must keep every frozen revision's readers
 * and writers, and equal its last revision (a compatible change is frozen as
 * the next revision by `npm run schemas:publish`).
 */
export function checkPublished(
  published: ReadonlyMap<string, string>,
  today: ReadonlyMap<string, string>,
): CheckReport {
  const report: CheckReport = { breaking: [], missing: [], unpublished: [], unfrozen: [] }
  for (const [versionFile, revisions] of revisionsOf(published)) {
    const current = today.get(versionFile)
    if (current === undefined) {
      report.missing.push(versionFile)
      continue
    }
    const breaking = revisions.flatMap((file) =>
      breakingChanges(file, parse(published.get(file) ?? ''), parse(current)),
    )
    report.breaking.push(...breaking)
    const last = revisions.at(-1) ?? versionFile
    if (breaking.length === 0 && published.get(last) !== current) {
      const revision = parseContractFile(last)?.revision ?? 1
      report.unfrozen.push({ file: versionFile, next: revisionFile(versionFile, revision + 1) })
    }
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
    ...report.unfrozen.map(
      ({ file, next }) =>
        `${file} changed compatibly since its last frozen revision: run \`npm run schemas:publish\` to freeze it as ${next}`,
    ),
  ]
}
