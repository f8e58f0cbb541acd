import { describe, expect, it } from 'vitest'
import { createRequestFingerprinter, fingerprinterFromSettings } from './request-fingerprint.ts'

const request = JSON.stringify({
  customerId: 'alice',
  items: [{ sku: 'MUG', quantity: 1 }],
  paymentToken: 'tok_ok',
})

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return Buffer.from(digest).toString('hex')
}

describe('request fingerprints for idempotency records', () => {
  it('is an HMAC under the key: without the key, a guessed token cannot be tested', async () => {
    const keyed = createRequestFingerprinter('k'.repeat(43))
    const stored = await keyed.digest(request)
    expect(stored).toMatch(/^k1:[0-9a-f]{64}$/)
    expect(stored).not.toContain(await sha256Hex(request))
    // A reader holding every other field and the right guess, but not the key:
    expect(
      await createRequestFingerprinter('another key of enough length, 43 chars..').matches(stored, request),
    ).toBe(false)
    expect(await createRequestFingerprinter(undefined).matches(stored, request)).toBe(false)
    expect(await keyed.matches(stored, request)).toBe(true)
    expect(await keyed.matches(stored, request.replace('tok_ok', 'tok_other'))).toBe(false)
  })

  it('still compares the unkeyed digests of records made before keying', async () => {
    const legacy = await sha256Hex(request)
    const keyed = createRequestFingerprinter('k'.repeat(43))
    expect(await keyed.matches(legacy, request)).toBe(true)
    expect(await keyed.matches(legacy, request.replace('alice', 'bob'))).toBe(false)
    // That release hashed another text for the same request (the priority as sent): that one too.
    const before = `${request.slice(0, -1)},"priority":"standard"}`
    expect(await keyed.matches(await sha256Hex(before), request, before)).toBe(true)
    expect(await keyed.matches(await sha256Hex(before), request)).toBe(false)
  })

  it('rotates: `new,old` digests under the new key and still matches a record made under the old one', async () => {
    const [oldKey, newKey] = ['o'.repeat(43), 'n'.repeat(43)]
    const before = await fingerprinterFromSettings(oldKey, undefined).digest(request)
    const rotating = fingerprinterFromSettings(`${newKey},${oldKey}`, 'a NATS seed, unused')
    expect(await rotating.matches(before, request)).toBe(true)
    expect(await rotating.matches(before, request.replace('tok_ok', 'tok_other'))).toBe(false)
    const made = await rotating.digest(request)
    expect(made).toBe(await fingerprinterFromSettings(newKey, undefined).digest(request))
    expect(made).not.toBe(before)
    // Once the old key is dropped, its records no longer match (a 422 for a retry that old).
    expect(await fingerprinterFromSettings(newKey, undefined).matches(before, request)).toBe(false)
    // The fallback (a NATS secret) is taken whole, commas and all.
    const password = 'a,password,with,commas,of,enough,length'
    expect(await fingerprinterFromSettings(undefined, password).digest(request)).toBe(
      await createRequestFingerprinter(password).digest(request),
    )
  })

  it('with no secret (an unauthenticated bus), is the plain SHA-256 as before', async () => {
    const unkeyed = createRequestFingerprinter(undefined)
    expect(await unkeyed.digest(request)).toBe(await sha256Hex(request))
    expect(await createRequestFingerprinter('').digest(request)).toBe(await sha256Hex(request))
  })
})
