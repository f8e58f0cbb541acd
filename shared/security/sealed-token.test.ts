import { describe, expect, it } from 'vitest'
import {
  createTokenOpener,
  createTokenSealer,
  generateSealingKeyPair,
  parseJwkList,
  SEALED_TOKEN_PATTERN,
  SealedTokenError,
} from './sealed-token.ts'

const ORDER = '01890a5d-ac96-774b-bcce-b302099a8057'
const OTHER = '01890a5d-ac96-774b-bcce-b302099a8058'

describe('sealed payment tokens', () => {
  it('opens for the payment key and the same order only; the token is not in the sealed text', async () => {
    const keys = await generateSealingKeyPair()
    const sealer = await createTokenSealer(keys.publicJwk)
    const opener = await createTokenOpener([keys.privateJwk])
    const sealed = await sealer.seal('tok_ok_secret_4242', ORDER)
    expect(sealed).toMatch(SEALED_TOKEN_PATTERN)
    expect(sealed).not.toContain('tok_ok')
    expect(await opener.open(sealed, ORDER)).toBe('tok_ok_secret_4242')
    await expect(opener.open(sealed, OTHER)).rejects.toBeInstanceOf(SealedTokenError)
  })

  it('does not open with another key, nor after tampering', async () => {
    const keys = await generateSealingKeyPair()
    const other = await generateSealingKeyPair()
    const sealed = await (await createTokenSealer(keys.publicJwk)).seal('tok_1', ORDER)
    await expect((await createTokenOpener([other.privateJwk])).open(sealed, ORDER)).rejects.toThrow(
      /no private key/,
    )
    const opener = await createTokenOpener([keys.privateJwk])
    const last = sealed.at(-2) === 'A' ? 'B' : 'A'
    await expect(opener.open(`${sealed.slice(0, -2)}${last}${sealed.at(-1)}`, ORDER)).rejects.toBeInstanceOf(
      SealedTokenError,
    )
    await expect(opener.open('tok_1', ORDER)).rejects.toThrow(/not a sealed token/)
  })

  it('opens tokens sealed for the previous key after a rotation, and new sender keys after rotateMs', async () => {
    const old = await generateSealingKeyPair()
    const next = await generateSealingKeyPair()
    let t = 0
    const sealer = await createTokenSealer(old.publicJwk, { rotateMs: 10, now: () => t })
    const a = await sealer.seal('tok_a', ORDER)
    const b = await sealer.seal('tok_b', ORDER)
    t = 11
    const c = await sealer.seal('tok_c', ORDER)
    expect(a.split('.')[3]).toBe(b.split('.')[3])
    expect(c.split('.')[3]).not.toBe(a.split('.')[3])
    const fromNew = await (await createTokenSealer(next.publicJwk)).seal('tok_d', ORDER)
    const opener = await createTokenOpener(parseJwkList(JSON.stringify([next.privateJwk, old.privateJwk])))
    expect(await Promise.all([a, b, c, fromNew].map((s) => opener.open(s, ORDER)))).toStrictEqual([
      'tok_a',
      'tok_b',
      'tok_c',
      'tok_d',
    ])
  })

  it('rejects key files that are not P-256 JWKs', () => {
    expect(() => parseJwkList('nope')).toThrow(/not JSON/)
    expect(() => parseJwkList('{"kty":"RSA"}')).toThrow(/EC P-256/)
  })
})
