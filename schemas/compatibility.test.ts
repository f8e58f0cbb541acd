import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { frozenProblems, readJsonFiles, SCHEMA_DIRS } from '../scripts/lib/schema-dirs.ts'
import { breakingChanges, checkPublished, describeReport, parseContractFile } from './compatibility.ts'
import type { JsonSchema } from './json-schema-subset.ts'
import { toJsonSchemaFiles } from './json-schemas.ts'

const published = readJsonFiles(SCHEMA_DIRS.published)

type Mutable = Record<string, unknown> & {
  properties: Record<string, Record<string, unknown>>
  required: string[]
}
/** A deep copy of a published schema, to change in memory. */
function frozen(file: string): Mutable {
  const text = published.get(file)
  if (text === undefined) throw new Error(`${file} is not published`)
  return JSON.parse(text) as Mutable
}
const messages = (file: string, today: JsonSchema) =>
  breakingChanges(file, frozen(file) as JsonSchema, today).map((b) => b.message)

describe('published contract versions', () => {
  it("are all compatible with today's generated schemas, and every generated version is published", () => {
    expect(published.size).toBeGreaterThanOrEqual(10)
    expect(describeReport(checkPublished(published, toJsonSchemaFiles()))).toStrictEqual([])
  })

  // Outside a full git checkout (a tarball, a shallow clone) there is no history to compare with.
  const frozen = frozenProblems(published)
  it.skipIf(frozen === undefined)(
    'are frozen: each file is byte-for-byte the version that first added it, and none is removed',
    () => {
      expect(frozen).toStrictEqual([])
    },
  )

  it.skipIf(frozen === undefined)(
    'are each compared with the commit that added it (a changed copy is named)',
    () => {
      const changed = new Map([...published].map(([file, text]) => [file, `${text} `]))
      expect(frozenProblems(changed)).toHaveLength(published.size)
    },
  )
})

describe('the frozen check on a repository of its own', () => {
  it('names a published file changed after its commit, and one removed', () => {
    const top = mkdtempSync(join(tmpdir(), 'frozen-'))
    try {
      const dir = join(top, 'project', 'schemas', 'published')
      mkdirSync(dir, { recursive: true })
      const git = (...args: string[]) => execFileSync('git', args, { cwd: top, stdio: 'ignore' })
      git('init', '-q')
      writeFileSync(join(dir, 'a.v1.json'), '{"a":1}')
      writeFileSync(join(dir, 'b.v1.json'), '{"b":1}')
      git('add', '.')
      git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'publish')
      expect(
        frozenProblems(
          new Map([
            ['a.v1.json', '{"a":1}'],
            ['b.v1.json', '{"b":1}'],
          ]),
          dir,
        ),
      ).toStrictEqual([])
      expect(frozenProblems(new Map([['a.v1.json', '{"a":2}']]), dir)).toStrictEqual([
        'project/schemas/published/b.v1.json: published, then removed (a published version stays)',
        expect.stringMatching(/^project\/schemas\/published\/a\.v1\.json: changed after it was published/),
      ])
    } finally {
      rmSync(top, { recursive: true, force: true })
    }
  })
})

describe('the compatibility checker', () => {
  const CREATED = 'order-created.v1.json'

  it('fails an event object closed to unlisted fields (a strict schema), or a closed one opened', () => {
    const closed = { ...frozen(CREATED), additionalProperties: false }
    expect(messages(CREATED, closed)).toStrictEqual([
      'OrderCreated v1 (order-created.v1.json) field "(root)": object closed to fields it does not list; breaks new readers of old events',
    ])
    expect(breakingChanges(CREATED, closed, frozen(CREATED)).map((b) => b.message)).toStrictEqual([
      'OrderCreated v1 (order-created.v1.json) field "(root)": object opened to fields it does not list; breaks old readers of new events',
    ])
  })

  it('fails a keyword it does not understand when it differs (a Valibot notValue: "not")', () => {
    const today = frozen(CREATED)
    today.properties['customerId'] = { ...today.properties['customerId'], not: { const: 'x' } }
    expect(messages(CREATED, today)).toStrictEqual([
      'OrderCreated v1 (order-created.v1.json) field "customerId": not changed from none to {"const":"x"} (not a keyword this check can judge); breaks new readers of old events',
    ])
  })

  it('fails a removed required field, naming the event, version and field', () => {
    const today = frozen(CREATED)
    today.required = today.required.filter((f) => f !== 'customerId')
    delete today.properties['customerId']
    expect(messages(CREATED, today)).toStrictEqual([
      'OrderCreated v1 (order-created.v1.json) field "customerId": required field removed (or renamed); breaks old readers of new events',
    ])
  })

  it('fails a renamed field both ways: old readers miss it, new readers miss the new one', () => {
    const today = frozen(CREATED)
    today.properties['customer'] = today.properties['customerId'] ?? {}
    delete today.properties['customerId']
    today.required = today.required.map((f) => (f === 'customerId' ? 'customer' : f))
    expect(messages(CREATED, today)).toStrictEqual([
      'OrderCreated v1 (order-created.v1.json) field "customer": new required field; breaks new readers of old events',
      'OrderCreated v1 (order-created.v1.json) field "customerId": required field removed (or renamed); breaks old readers of new events',
    ])
  })

  it('fails a changed type deep in an array', () => {
    const today = frozen(CREATED)
    const items = today.properties['items'] as { items: Mutable }
    items.items.properties['quantity'] = { type: 'string' }
    expect(messages(CREATED, today)).toContain(
      'OrderCreated v1 (order-created.v1.json) field "items[].quantity": type changed from ["integer"] to ["string"]; breaks new readers of old events',
    )
  })

  it('fails a removed enum value, and an added one (old readers dead-letter values they do not know)', () => {
    const file = 'order-cancelled.v1.json'
    const today = frozen(file)
    const reason = today.properties['reason'] as { enum: string[] }
    reason.enum = [...reason.enum.filter((r) => r !== 'payment_failed'), 'fraud_suspected']
    expect(messages(file, today)).toStrictEqual([
      'OrderCancelled v1 (order-cancelled.v1.json) field "reason": enum value "payment_failed" removed; breaks new readers of old events',
      'OrderCancelled v1 (order-cancelled.v1.json) field "reason": enum value "fraud_suspected" added; breaks old readers of new events',
    ])
  })

  it('fails a changed version constant and a tightened bound', () => {
    const today = frozen(CREATED)
    today.properties['version'] = { const: 2 }
    ;(today.properties['customerId'] as { maxLength: number }).maxLength = 32
    expect(messages(CREATED, today)).toStrictEqual([
      'OrderCreated v1 (order-created.v1.json) field "version": value changed from 1 to 2; breaks new readers of old events',
      'OrderCreated v1 (order-created.v1.json) field "customerId": maxLength changed from 64 to 32; breaks new readers of old events',
      'OrderCreated v1 (order-created.v1.json) field "version": value changed from 1 to 2; breaks old readers of new events',
    ])
  })

  it('allows an optional field added to an event, and text changes', () => {
    const today = frozen(CREATED)
    today.properties['giftNote'] = { type: 'string', maxLength: 200 }
    today['description'] = 'reworded'
    expect(messages(CREATED, today)).toStrictEqual([])
  })

  it("keeps old clients' requests valid: a new enum value or a looser bound is fine, a new required field is not", () => {
    const file = 'create-order-request.v1.json'
    const looser = frozen(file)
    ;(looser.properties['paymentToken'] as { maxLength: number }).maxLength = 256
    looser.properties['note'] = { type: 'string' }
    expect(messages(file, looser)).toStrictEqual([])

    const stricter = frozen(file)
    stricter.properties['currency'] = { type: 'string' }
    stricter.required.push('currency')
    delete stricter.properties['customerId']
    stricter.required = stricter.required.filter((f) => f !== 'customerId')
    expect(messages(file, stricter)).toStrictEqual([
      'CreateOrderRequest v1 (create-order-request.v1.json) field "currency": new required field; breaks old clients\' requests',
      'CreateOrderRequest v1 (create-order-request.v1.json) field "customerId": field no longer accepted; breaks old clients\' requests',
    ])
  })

  it('keeps responses readable by old clients: a new status value breaks them, a removed optional field does not', () => {
    const file = 'order-status.v1.json'
    const today = frozen(file)
    const status = today.properties['status'] as { enum: string[] }
    status.enum.push('on_hold')
    delete today.properties['chargeId']
    expect(messages(file, today)).toStrictEqual([
      'OrderStatus v1 (order-status.v1.json) field "status": enum value "on_hold" added; breaks old clients reading responses',
    ])
  })

  it('checks today against every frozen revision: a value added to a field a later revision froze is named with it', () => {
    const today = new Map(toJsonSchemaFiles())
    const created = JSON.parse(today.get(CREATED) ?? '') as Mutable
    created.properties['priority'] = { type: 'string', enum: ['standard', 'express', 'bulk'] }
    today.set(CREATED, JSON.stringify(created))
    expect(describeReport(checkPublished(published, today))).toStrictEqual([
      'OrderCreated v1 (order-created.v1.r2.json) field "priority": enum value "bulk" added; breaks old readers of new events',
    ])
  })

  it('names a compatible change not frozen yet, with the revision that would freeze it', () => {
    const withoutRevision = new Map(published)
    withoutRevision.delete('order-created.v1.r2.json')
    expect(describeReport(checkPublished(withoutRevision, toJsonSchemaFiles()))).toStrictEqual([
      'order-created.v1.json changed compatibly since its last frozen revision: run `npm run schemas:publish` to freeze it as order-created.v1.r2.json',
    ])
    expect(parseContractFile('order-created.v1.r2.json')).toStrictEqual({
      name: 'order-created',
      version: 1,
      revision: 2,
      versionFile: CREATED,
    })
    expect(parseContractFile('order-created.v1.r1.json')).toBeUndefined()
  })

  it('reports a published version that is no longer generated, and a generated one not yet published', () => {
    const today = new Map(toJsonSchemaFiles())
    today.delete(CREATED)
    today.set('order-created.v9.json', '{}')
    expect(describeReport(checkPublished(published, today))).toStrictEqual([
      'order-created.v1.json is published but no longer generated: a published version is kept',
      'order-created.v9.json has no frozen copy in schemas/published/: run `npm run schemas:publish`',
    ])
  })
})
