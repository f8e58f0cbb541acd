import { describe, expect, it } from 'vitest'
import { importNodeAesGcmKey } from './aes-gcm-node.ts'
import { importWebCryptoAesGcmKey, type AesGcmKeyImport } from './aes-gcm.ts'
import { fromBase64Url } from './base64url.ts'
import {
  createTokenOpener,
  createTokenSealer,
  generateSealingKeyPair,
  parseJwkList,
  SEALED_TOKEN_PATTERN,
  SealedTokenError,
  SealingKeyError,
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
    expect(() => parseJwkList('[]')).toThrow(/holds no key/)
    expect(() => parseJwkList('{"kty":"RSA"}')).toThrow(/EC P-256/)
  })
})

// A token sealed by the WebCrypto-only code (before AES-GCM moved to node:crypto
// where available), with a key pair made for this test only.
const VECTOR = {
  publicJwk: {
    crv: 'P-256',
    kty: 'EC',
    x: 'OfEAqrtM-luAMklmj3-O_h83Qidc-vs1DfvsJIG_Kkk',
    y: 'kmN86OhsZIJdjW2RRjhtvMt61kieyLsoqW8LOrNBdVQ',
  },
  privateJwk: {
    crv: 'P-256',
    kty: 'EC',
    d: 'vq7tNry0oOO88ZZuWro-04VVunGWy0NxJzHnq9-C-_I',
    x: 'OfEAqrtM-luAMklmj3-O_h83Qidc-vs1DfvsJIG_Kkk',
    y: 'kmN86OhsZIJdjW2RRjhtvMt61kieyLsoqW8LOrNBdVQ',
  },
  sealed:
    'sealed.v1.ThoymTLj6ilQ.BN0EEDMHG5yNj7Z6qhCM5JEpJjW4bR59gyBHJ8w-8JT3EBaI6EEcjsvjSAbEINp5tkKsenwWVleu_IK2DIc2hT0.gvJQEF6507ggrqhG.2sDHblepgpWj1r899AUm7igaXIWFGSbeknUqI2xlLO27A7kFxQ',
  token: 'tok_fixed_vector_4242',
} as const

/** The WebCrypto-only opening, as the code before node:crypto did it, written out independently. */
async function openWithWebCryptoOnly(
  privateJwk: JsonWebKey,
  sealed: string,
  orderId: string,
): Promise<string> {
  const [, , , senderPublic = '', iv = '', data = ''] = sealed.split('.')
  const curve = { name: 'ECDH', namedCurve: 'P-256' }
  const raw = fromBase64Url(senderPublic)
  const mine = await crypto.subtle.importKey('jwk', privateJwk, curve, false, ['deriveBits'])
  const sender = await crypto.subtle.importKey('raw', raw, curve, false, [])
  const shared = await crypto.subtle.deriveBits({ name: 'ECDH', public: sender }, mine, 256)
  const hkdf = await crypto.subtle.importKey('raw', shared, 'HKDF', false, ['deriveKey'])
  const info = new TextEncoder().encode('order-saga sealed payment token v1')
  const aes = await crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: raw, info },
    hkdf,
    { name: 'AES-GCM', length: 256 },
    false,
    ['decrypt'],
  )
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: fromBase64Url(iv), additionalData: new TextEncoder().encode(orderId) },
    aes,
    fromBase64Url(data),
  )
  return new TextDecoder().decode(plain)
}

// Each way of making the AES-GCM key, and the one the other rows are checked against.
const WAYS: ReadonlyArray<[string, AesGcmKeyImport | undefined, AesGcmKeyImport | undefined]> = [
  ['WebCrypto deriveKey (the default)', undefined, importNodeAesGcmKey],
  ['node:crypto', importNodeAesGcmKey, undefined],
  ['WebCrypto importKey', importWebCryptoAesGcmKey, importNodeAesGcmKey],
]

describe.each(WAYS)('sealed tokens with AES-GCM keys from %s', (_, importAesGcmKey, other) => {
  it('open a token sealed by the WebCrypto-only code (fixed vector), for that order only', async () => {
    const opener = await createTokenOpener([VECTOR.privateJwk], { importAesGcmKey })
    expect(await opener.open(VECTOR.sealed, ORDER)).toBe(VECTOR.token)
    await expect(opener.open(VECTOR.sealed, OTHER)).rejects.toBeInstanceOf(SealedTokenError)
  })

  it('seal tokens in the same format that the WebCrypto-only code and the other way open', async () => {
    const sealer = await createTokenSealer(VECTOR.publicJwk, { importAesGcmKey })
    const sealed = await sealer.seal(VECTOR.token, ORDER)
    expect(sealed).toMatch(SEALED_TOKEN_PATTERN)
    expect(sealed.length).toBe(VECTOR.sealed.length)
    expect(await openWithWebCryptoOnly(VECTOR.privateJwk, sealed, ORDER)).toBe(VECTOR.token)
    const opener = await createTokenOpener([VECTOR.privateJwk], { importAesGcmKey: other })
    expect(await opener.open(sealed, ORDER)).toBe(VECTOR.token)
  })

  it('refuse a token whose tag, ciphertext or IV was changed', async () => {
    const opener = await createTokenOpener([VECTOR.privateJwk], { importAesGcmKey })
    const parts = VECTOR.sealed.split('.')
    const flip = (text: string, at: number): string =>
      `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`
    for (const [index, at] of [
      [5, 0],
      [5, 30],
      [4, 3],
    ] as const) {
      const changed = parts.map((part, i) => (i === index ? flip(part, at) : part)).join('.')
      await expect(opener.open(changed, ORDER)).rejects.toThrow(/does not open/)
    }
  })
})

it('refuses AES keys that are not 32 bytes, and sealed data shorter than the tag', async () => {
  await expect(importNodeAesGcmKey(new Uint8Array(16))).rejects.toThrow(/32 bytes/)
  const key = await importNodeAesGcmKey(new Uint8Array(32))
  await expect(key.decrypt(new Uint8Array(12), new Uint8Array(0), new Uint8Array(15))).rejects.toThrow(/tag/)
})

describe('configured key material that does not import', () => {
  it('names the setting and the key, never the key material', async () => {
    const { publicJwk, privateJwk } = await generateSealingKeyPair()
    const badPublic = { ...publicJwk, x: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }
    await expect(createTokenSealer(badPublic)).rejects.toThrow(
      new SealingKeyError(
        'PAYMENT_TOKEN_PUBLIC_KEY cannot be imported as a P-256 ECDH key (check its x, y and d)',
      ),
    )
    const badPrivate = { ...privateJwk, d: 'SECRETSECRET123' }
    const opening = createTokenOpener([privateJwk, badPrivate])
    await expect(opening).rejects.toBeInstanceOf(SealingKeyError)
    await expect(opening).rejects.toThrow(/^PAYMENT_TOKEN_PRIVATE_KEYS: key 2 cannot be imported/)
    await expect(createTokenOpener([publicJwk])).rejects.toBeInstanceOf(SealingKeyError)
  })
})
