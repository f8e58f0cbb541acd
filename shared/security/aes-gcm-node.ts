/**
 * AES-256-GCM with `node:crypto` (Bun, Node, Deno), the same bytes as
 * WebCrypto's (./aes-gcm.ts) at a fraction of the cost per call. Not for the
 * Worker: wrangler.toml has no `nodejs_compat`, and its bundle stays without it.
 */
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto'
import type { AesGcmKey, AesGcmKeyImport } from './aes-gcm.ts'

const TAG_BYTES = 16
const OPTIONS = { authTagLength: TAG_BYTES }

export const importNodeAesGcmKey: AesGcmKeyImport = (raw) =>
  new Promise<AesGcmKey>((resolve) => {
    if (raw.length !== 32) throw new RangeError('an AES-256 key has 32 bytes')
    // A KeyObject holds its own copy of the bytes, outside the JS heap.
    resolve(nodeAesGcmKey(createSecretKey(raw)))
  })

function nodeAesGcmKey(key: ReturnType<typeof createSecretKey>): AesGcmKey {
  // Inside a promise executor, throws become rejections, as WebCrypto's are.
  return {
    encrypt(iv, additionalData, plain) {
      return new Promise((resolve) => {
        const cipher = createCipheriv('aes-256-gcm', key, iv, OPTIONS)
        cipher.setAAD(additionalData)
        const head = cipher.update(plain)
        const tail = cipher.final()
        resolve(concat(head, tail, cipher.getAuthTag()))
      })
    },
    decrypt(iv, additionalData, sealed) {
      return new Promise((resolve) => {
        if (sealed.length < TAG_BYTES) throw new RangeError('shorter than the GCM tag')
        const decipher = createDecipheriv('aes-256-gcm', key, iv, OPTIONS)
        decipher.setAAD(additionalData)
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES))
        const head = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES))
        // final() throws when the tag does not match: nothing is returned before it.
        const tail = decipher.final()
        resolve(concat(head, tail))
      })
    },
  }
}

function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}
