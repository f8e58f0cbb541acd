/**
 * AES-256-GCM for sealed tokens, in WebCrypto's layout: a 12-byte IV and the
 * 16-byte tag appended to the ciphertext. WebCrypto here (every runtime has
 * it, the Worker uses it); `node:crypto` in ./aes-gcm-node.ts, the same bytes
 * in and out at a fraction of the cost per call on Bun, Node and Deno
 * (bench/probes/crypto-paths.ts), passed in by the services that run there.
 * Keys stay non-extractable (a `CryptoKey` or a `KeyObject`).
 */
export interface AesGcmKey {
  encrypt(
    iv: Uint8Array<ArrayBuffer>,
    additionalData: Uint8Array<ArrayBuffer>,
    plain: Uint8Array<ArrayBuffer>,
  ): Promise<Uint8Array>
  /** Rejects when the tag does not match (wrong key, IV, data or additional data). */
  decrypt(
    iv: Uint8Array<ArrayBuffer>,
    additionalData: Uint8Array<ArrayBuffer>,
    sealed: Uint8Array<ArrayBuffer>,
  ): Promise<Uint8Array>
}

/** Imports a 32-byte key; the caller wipes `raw` afterwards (the key holds its own copy). */
export type AesGcmKeyImport = (raw: Uint8Array<ArrayBuffer>) => Promise<AesGcmKey>

/** A WebCrypto AES-GCM key (from `deriveKey` or `importKey`) behind {@link AesGcmKey}. */
export function webCryptoAesGcmKey(key: CryptoKey): AesGcmKey {
  return {
    async encrypt(iv, additionalData, plain) {
      return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData }, key, plain))
    },
    async decrypt(iv, additionalData, sealed) {
      return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData }, key, sealed))
    },
  }
}

export const importWebCryptoAesGcmKey: AesGcmKeyImport = async (raw) =>
  webCryptoAesGcmKey(await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']))
