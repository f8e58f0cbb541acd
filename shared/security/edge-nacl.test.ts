import { randomBytes } from 'node:crypto'
import nacl from 'tweetnacl'
import { describe, expect, it } from 'vitest'
import edgeNacl from './edge-nacl.ts'

describe("the Worker intake's tweetnacl (on @noble/ed25519)", () => {
  it('derives the same key pair and the same signatures as tweetnacl', () => {
    for (let i = 0; i < 20; i++) {
      const seed = new Uint8Array(randomBytes(32))
      const message = new Uint8Array(randomBytes(1 + i * 7))
      const theirs = nacl.sign.keyPair.fromSeed(seed)
      const ours = edgeNacl.sign.keyPair.fromSeed(seed)
      expect(ours).toStrictEqual({ publicKey: theirs.publicKey, secretKey: theirs.secretKey })
      const signature = edgeNacl.sign.detached(message, ours.secretKey)
      expect(signature).toStrictEqual(nacl.sign.detached(message, theirs.secretKey))
      expect(edgeNacl.sign.detached.verify(message, signature, ours.publicKey)).toBe(true)
      message[0] = message[0]! ^ 1
      expect(edgeNacl.sign.detached.verify(message, signature, ours.publicKey)).toBe(false)
    }
  })

  it('gives random bytes, and refuses the curve keys the project does not use', () => {
    expect(edgeNacl.randomBytes(32)).toHaveLength(32)
    expect(() => edgeNacl.scalarMult.base()).toThrow(/not available in the Worker intake/)
    expect(() => edgeNacl.box()).toThrow(/not available/)
  })
})
