import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { jsonErrorDetail, schemaIssuesDetail } from './poison-detail.ts'

const TOKEN = 'tok_4242424242424242'

describe("a dead letter's reason", () => {
  it('says the payload is not JSON, and where, never the text of it', () => {
    for (const payload of [`${TOKEN} and more`, `x"y ${TOKEN}`, `{"a": ${TOKEN}}`]) {
      let error: unknown
      try {
        JSON.parse(payload)
      } catch (e) {
        error = e
      }
      const detail = jsonErrorDetail(error, payload.length)
      expect(detail).toMatch(
        new RegExp(`^not valid JSON \\(${payload.length} bytes(, at position \\d+)?\\)$`),
      )
      expect(detail).not.toContain(TOKEN)
    }
  })

  it('names each field and what it expected, never the value received', () => {
    const schema = v.object({ amountCents: v.number(), items: v.array(v.object({ sku: v.string() })) })
    const result = v.safeParse(schema, { amountCents: TOKEN, items: [{ sku: 7 }] })
    expect(result.success).toBe(false)
    const detail = schemaIssuesDetail(result.issues ?? [])
    expect(detail).toBe(
      'amountCents: Invalid type: Expected number; items.0.sku: Invalid type: Expected string',
    )
    expect(detail).not.toContain(TOKEN)
  })
})
