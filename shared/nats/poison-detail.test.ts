import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { jsonErrorDetail, schemaIssuesDetail } from './poison-detail.ts'

const TOKEN = 'tok_4242424242424242'

describe("a dead letter's reason", () => {
  it('says where JSON broke without the text around it', () => {
    let error: unknown
    try {
      JSON.parse(`${TOKEN} and more`)
    } catch (e) {
      error = e
    }
    const detail = jsonErrorDetail(error)
    expect(detail).not.toContain(TOKEN)
    expect(detail.length).toBeGreaterThan(0)
    expect(jsonErrorDetail(new SyntaxError(`Unexpected token 't', "${TOKEN}" is not valid JSON`))).toBe(
      `Unexpected token '…', "…" is not valid JSON`,
    )
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
