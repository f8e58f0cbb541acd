/*
 * Card tokens sealed for the payment service. The intake holds only the
 * payment service's public key; only the payment service holds the private
 * key that opens a token. WebCrypto by default, so it runs on Bun, Node, Deno
 * and Workers alike; the services on Bun, Node and Deno pass `node:crypto`'s
 * AES-GCM (`importNodeAesGcmKey`, ./aes-gcm-node.ts), several times cheaper per
 * token and the same bytes (key agreement and derivation stay WebCrypto's,
 * once per sender key).
 *
 * Scheme: ECDH P-256 between a sender key and the recipient's key, HKDF-SHA-256
 * to an AES-256-GCM key, the order id as additional data (a sealed token
 * copied onto another order does not open). A sender key is kept for
 * `rotateMs` so one ECDH serves many orders; each token has its own IV.
 *
 *   sealed.v1.<kid>.<sender public key>.<iv>.<ciphertext>
 *
 * `kid` names the recipient key (rotation: the payment service holds the
 * current and the previous private keys and picks by kid).
 */
import { webCryptoAesGcmKey, type AesGcmKey, type AesGcmKeyImport } from './aes-gcm.ts'
import { fromBase64Url, toBase64Url } from './base64url.ts'
import { rememberRecent } from '../runtime/remember-recent.ts'

const CURVE = { name: 'ECDH', namedCurve: 'P-256' } as const
const INFO = new TextEncoder().encode('order-saga sealed payment token v1')
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export const SEALED_TOKEN_PATTERN =
  /^sealed\.v1\.[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{80,100}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,400}$/

/** A sealed token that does not open: wrong key, wrong order, tampered or malformed. */
export class SealedTokenError extends Error {
  override readonly name: string = 'SealedTokenError'
}

/** A token sealed for a key this service does not hold: a configuration fault (a rotation in the wrong order), not a bad card. */
export class UnknownSealingKeyError extends SealedTokenError {
  override readonly name = 'UnknownSealingKeyError'
}

/** Configured key material the runtime cannot import; the message names the setting, never the key. */
export class SealingKeyError extends Error {
  override readonly name = 'SealingKeyError'
}

async function imported(what: string, load: () => Promise<CryptoKey>): Promise<CryptoKey> {
  try {
    return await load()
  } catch {
    throw new SealingKeyError(`${what} cannot be imported as a P-256 ECDH key (check its x, y and d)`)
  }
}

export interface TokenSealer {
  /** Seals `token` for the payment service, bound to `orderId`. */
  seal(token: string, orderId: string): Promise<string>
}

export interface TokenOpener {
  /** Opens a token sealed for `orderId`; throws {@link SealedTokenError} otherwise. */
  open(sealed: string, orderId: string): Promise<string>
}

/** A JWK with its key id (`kid`), as generated below. */
export type KeyedJwk = JsonWebKey & { kid?: string }

export interface SealingKeyPair {
  publicJwk: KeyedJwk
  privateJwk: KeyedJwk
}

export async function generateSealingKeyPair(): Promise<SealingKeyPair> {
  const pair = await crypto.subtle.generateKey(CURVE, true, ['deriveBits'])
  const privateJwk = await crypto.subtle.exportKey('jwk', pair.privateKey)
  const publicJwk = await crypto.subtle.exportKey('jwk', pair.publicKey)
  const kid = await keyIdOf(publicJwk)
  return { publicJwk: { ...publicJwk, kid }, privateJwk: { ...privateJwk, kid } }
}

/** A recipient key's id: the first 12 characters of the SHA-256 of its public point. */
export async function keyIdOf(jwk: JsonWebKey): Promise<string> {
  if (jwk.x === undefined || jwk.y === undefined) throw new SealedTokenError('not an EC public key')
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(`${jwk.x}.${jwk.y}`))
  return toBase64Url(new Uint8Array(digest)).slice(0, 12)
}

/** How AES-GCM keys are made; by default WebCrypto's `deriveKey`. */
export interface SealingOptions {
  importAesGcmKey?: AesGcmKeyImport | undefined
}

async function deriveAesKey(
  privateKey: CryptoKey,
  publicKey: CryptoKey,
  salt: Uint8Array<ArrayBuffer>,
  importAesGcmKey: AesGcmKeyImport | undefined,
): Promise<AesGcmKey> {
  const shared = await crypto.subtle.deriveBits({ name: 'ECDH', public: publicKey }, privateKey, 256)
  const hkdfKey = await crypto.subtle.importKey('raw', shared, 'HKDF', false, ['deriveKey', 'deriveBits'])
  const hkdf = { name: 'HKDF', hash: 'SHA-256', salt, info: INFO }
  if (importAesGcmKey === undefined) {
    const aes = { name: 'AES-GCM', length: 256 }
    return webCryptoAesGcmKey(
      await crypto.subtle.deriveKey(hkdf, hkdfKey, aes, false, ['encrypt', 'decrypt']),
    )
  }
  // HKDF's first 256 bits are the key deriveKey gives above; imported, then wiped here.
  const raw = new Uint8Array(await crypto.subtle.deriveBits(hkdf, hkdfKey, 256))
  try {
    return await importAesGcmKey(raw)
  } finally {
    raw.fill(0)
  }
}

function publicOnly(jwk: JsonWebKey): JsonWebKey {
  const { kty, crv, x, y } = jwk
  return { kty, crv, x, y } as JsonWebKey
}

interface SenderKey {
  aes: AesGcmKey
  senderPublic: string
  createdAt: number
}

/** The intake's side: seals with the payment service's public key. */
export async function createTokenSealer(
  recipientPublicJwk: JsonWebKey,
  {
    rotateMs = 3_600_000,
    now = Date.now,
    importAesGcmKey,
  }: { rotateMs?: number; now?: () => number } & SealingOptions = {},
): Promise<TokenSealer> {
  const kid = await keyIdOf(recipientPublicJwk)
  const recipient = await imported('PAYMENT_TOKEN_PUBLIC_KEY', () =>
    crypto.subtle.importKey('jwk', publicOnly(recipientPublicJwk), CURVE, false, []),
  )
  let current: Promise<SenderKey> | undefined

  async function newSenderKey(): Promise<SenderKey> {
    const pair = await crypto.subtle.generateKey(CURVE, true, ['deriveBits'])
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))
    return {
      aes: await deriveAesKey(pair.privateKey, recipient, raw, importAesGcmKey),
      senderPublic: toBase64Url(raw),
      createdAt: now(),
    }
  }

  async function senderKey(): Promise<SenderKey> {
    const key = current === undefined ? undefined : await current
    if (key !== undefined && now() - key.createdAt < rotateMs) return key
    current = newSenderKey()
    current.catch(() => (current = undefined))
    return current
  }

  return {
    async seal(token, orderId) {
      const { aes, senderPublic } = await senderKey()
      const iv = crypto.getRandomValues(new Uint8Array(12))
      const sealed = await aes.encrypt(iv, encoder.encode(orderId), encoder.encode(token))
      return `sealed.v1.${kid}.${senderPublic}.${toBase64Url(iv)}.${toBase64Url(sealed)}`
    },
  }
}

/** The payment service's side: opens with any of its private keys (current and previous). */
export async function createTokenOpener(
  privateJwks: readonly JsonWebKey[],
  { cacheSize = 256, importAesGcmKey }: { cacheSize?: number } & SealingOptions = {},
): Promise<TokenOpener> {
  if (privateJwks.length === 0) throw new SealedTokenError('no private key to open payment tokens')
  const keys = new Map<string, CryptoKey>()
  for (const [index, jwk] of privateJwks.entries()) {
    const { kid: _kid, key_ops: _ops, ...material } = jwk as KeyedJwk
    const key = await imported(`PAYMENT_TOKEN_PRIVATE_KEYS: key ${index + 1}`, () =>
      crypto.subtle.importKey('jwk', material, CURVE, false, ['deriveBits']),
    )
    keys.set(await keyIdOf(jwk), key)
  }
  // One derived key per sender key: the intake keeps a sender key for an hour.
  const derived = new Map<string, Promise<AesGcmKey>>()

  function aesFor(kid: string, senderPublic: string): Promise<AesGcmKey> {
    const cacheKey = `${kid}.${senderPublic}`
    const hit = derived.get(cacheKey)
    if (hit !== undefined) return hit
    const privateKey = keys.get(kid)
    if (privateKey === undefined)
      return Promise.reject(
        new UnknownSealingKeyError(
          `no private key with id ${kid} in PAYMENT_TOKEN_PRIVATE_KEYS (the intake seals with PAYMENT_TOKEN_PUBLIC_KEY)`,
        ),
      )
    const raw = fromBase64Url(senderPublic)
    const made = crypto.subtle
      .importKey('raw', raw, CURVE, false, [])
      .then((sender) => deriveAesKey(privateKey, sender, raw, importAesGcmKey))
    made.catch(() => derived.delete(cacheKey))
    void rememberRecent(derived, cacheKey, made, cacheSize)
    return made
  }

  return {
    async open(sealed, orderId) {
      if (!SEALED_TOKEN_PATTERN.test(sealed)) throw new SealedTokenError('not a sealed token')
      const [, , kid = '', senderPublic = '', iv = '', data = ''] = sealed.split('.')
      try {
        const aes = await aesFor(kid, senderPublic)
        const plain = await aes.decrypt(fromBase64Url(iv), encoder.encode(orderId), fromBase64Url(data))
        return decoder.decode(plain)
      } catch (error) {
        if (error instanceof SealedTokenError) throw error
        throw new SealedTokenError('the sealed token does not open for this order', { cause: error })
      }
    },
  }
}

/** A JWK, or a JSON array of JWKs (private keys: the current first). */
export function parseJwkList(text: string): JsonWebKey[] {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new SealedTokenError('the key is not JSON (expected a JWK or an array of JWKs)', { cause: error })
  }
  const list = Array.isArray(value) ? value : [value]
  if (list.length === 0) throw new SealedTokenError('the list holds no key (expected at least one JWK)')
  for (const k of list) {
    if (
      typeof k !== 'object' ||
      k === null ||
      (k as JsonWebKey).kty !== 'EC' ||
      (k as JsonWebKey).crv !== 'P-256'
    ) {
      throw new SealedTokenError('every key must be an EC P-256 JWK')
    }
  }
  return list as JsonWebKey[]
}
