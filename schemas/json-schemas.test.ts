import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { toJsonSchemaFiles } from './json-schemas.ts'

describe('generated JSON Schema files', () => {
  const dir = join(import.meta.dirname, 'json')

  it('match the Valibot schemas (run `npm run schemas` when this fails)', () => {
    const expected = toJsonSchemaFiles()
    const onDisk = new Map(
      readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
    )
    expect([...onDisk.keys()].sort()).toStrictEqual([...expected.keys()].sort())
    for (const [file, text] of expected) expect(onDisk.get(file), file).toBe(text)
  })

  it('describe the order request as closed to unknown fields', () => {
    const schema = JSON.parse(readFileSync(join(dir, 'create-order-request.v1.json'), 'utf8')) as Record<
      string,
      unknown
    >
    expect(schema['additionalProperties']).toBe(false)
    expect(schema['required']).toStrictEqual(['customerId', 'items', 'paymentToken'])
  })
})
