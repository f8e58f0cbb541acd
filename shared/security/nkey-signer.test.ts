import { nkeyAuthenticator, nkeys } from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import { createNkeyIdentity, publicKeyOfSeed } from './nats-identity.ts'
import { nkeyUser, NkeySeedError } from './nkey-signer.ts'

const nonces = ['', 'x', 'hnXzVTvOGOZ0lqCh', 'a nonce with spaces and ünïcödé', 'n'.repeat(300)]

describe('nkeyUser', () => {
  it('signs exactly as nats.js does, with the same public key', () => {
    for (let i = 0; i < 5; i++) {
      const { seed, publicKey } = createNkeyIdentity()
      const user = nkeyUser(seed)
      expect(user.publicKey).toBe(publicKey)
      expect(user.publicKey).toBe(publicKeyOfSeed(seed))
      const reference = nkeyAuthenticator(new TextEncoder().encode(seed))
      for (const nonce of nonces) {
        const auth = user.authenticator(nonce)
        expect(auth).toStrictEqual(reference(nonce))
        if (nonce !== '') {
          const { sig } = auth as { sig: string }
          const signature = Uint8Array.from(atob(sig), (c) => c.charCodeAt(0))
          expect(nkeys.fromPublic(publicKey).verify(new TextEncoder().encode(nonce), signature)).toBe(true)
        }
      }
      expect(user.authenticator()).toStrictEqual({ nkey: publicKey, sig: '' })
    }
  })

  it('refuses what is not a user seed', () => {
    const account = new TextDecoder().decode(nkeys.createAccount().getSeed())
    for (let i = 0; i < 20; i++) {
      const { seed, publicKey } = createNkeyIdentity()
      // A data character changed (the last one also carries padding bits: not that one).
      const at = 2 + (i % 50)
      const broken = `${seed.slice(0, at)}${seed[at] === 'A' ? 'B' : 'A'}${seed.slice(at + 1)}`
      for (const bad of [publicKey, account, broken, '', 'SU'])
        expect(() => nkeyUser(bad)).toThrow(NkeySeedError)
    }
    expect(() => nkeyUser(account)).toThrow('not a user seed (SU...)')
  })
})
