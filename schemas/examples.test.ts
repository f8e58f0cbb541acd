// Committed example events of every published version (schemas/examples/
// <subject>.v<N>.json) stay readable: each parses with today's consumer
// schema of its subject and validates against the frozen JSON Schema of its
// version. Every file in the folder is checked, so a new version's examples
// are covered as soon as they are added.
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { readJsonFiles, SCHEMA_DIRS } from '../scripts/lib/schema-dirs.ts'
import { parseContractFile, roleOf } from './compatibility.ts'
import { EVENT_SCHEMAS } from './events.ts'
import { SUBJECTS, type Subject } from './subjects.ts'

const examples = readJsonFiles(SCHEMA_DIRS.examples)
const published = readJsonFiles(SCHEMA_DIRS.published)

/** `orders.created.v1.json` -> subject and version. */
function parseExampleFile(file: string): { subject: string; version: number } | undefined {
  const match = /^([a-z_]+\.[a-z_]+)\.v([1-9][0-9]*)\.json$/.exec(file)
  return match?.[1] === undefined ? undefined : { subject: match[1], version: Number(match[2]) }
}

/**
 * Published event schemas by `<subject>.v<N>` (an event schema's description
 * starts with its subject): each version's last frozen revision.
 */
const publishedEvents = new Map<string, { file: string; schema: object }>(
  [...published]
    .flatMap(([file, text]) => {
      const contract = parseContractFile(file)
      const schema = JSON.parse(text) as { description?: unknown }
      const subject =
        typeof schema.description === 'string' ? /^[a-z_]+\.[a-z_]+/.exec(schema.description) : null
      if (!contract || roleOf(file) !== 'event' || !subject) return []
      return [{ key: `${subject[0]}.v${contract.version}`, revision: contract.revision, file, schema }]
    })
    // By revision number, not by name (r10 sorts before r2): the last one wins.
    .sort((a, b) => a.revision - b.revision)
    .map(({ key, file, schema }) => [key, { file, schema }] as const),
)

const ajv = new Ajv2020({ allErrors: true, strict: false })
addFormats(ajv)

describe('example events', () => {
  it('exist for every published event version, and only under known names', () => {
    expect([...examples.keys()].filter((f) => parseExampleFile(f) === undefined)).toStrictEqual([])
    const missing = [...publishedEvents.keys()].filter((key) => !examples.has(`${key}.json`))
    expect(missing, 'published event versions without an example').toStrictEqual([])
    expect(publishedEvents.size).toBeGreaterThanOrEqual(Object.keys(SUBJECTS).length)
  })

  it.each([...examples.keys()])("%s parses with today's consumer schema", (file) => {
    const { subject, version } = parseExampleFile(file) ?? { subject: '', version: 0 }
    expect(Object.values(SUBJECTS)).toContain(subject)
    const event = JSON.parse(examples.get(file) ?? '') as { version?: unknown }
    expect(event.version, 'the example is of the version its name says').toBe(version)
    const result = v.safeParse(EVENT_SCHEMAS[subject as Subject], event)
    expect(result.issues?.map((i) => `${v.getDotPath(i) ?? '(root)'}: ${i.message}`) ?? []).toStrictEqual([])
  })

  it.each([...examples.keys()])('%s is valid under the frozen schema of its version', (file) => {
    const frozen = publishedEvents.get(file.replace(/\.json$/, ''))
    expect(frozen, `a published schema for ${file}`).toBeDefined()
    const validate = ajv.compile(frozen?.schema ?? false)
    validate(JSON.parse(examples.get(file) ?? ''))
    expect(validate.errors ?? []).toStrictEqual([])
  })
})
