import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createApiKeyVerifier, parseApiKeys } from '../shared/http/api-keys.ts'
import { publicKeyOfSeed } from '../shared/security/nats-identity.ts'
import { createTokenOpener, createTokenSealer } from '../shared/security/sealed-token.ts'

const root = join(import.meta.dirname, '..')
const key = (...args: string[]) => {
  const run = spawnSync(join(root, 'node_modules/.bin/bun'), ['scripts/new-key.ts', ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 30_000,
  })
  return { code: run.status, out: run.stdout, err: run.stderr }
}

describe('npm run key', () => {
  it('makes an API key whose API_KEYS entry accepts it', async () => {
    const made = key('api-key', 'alice2', 'client')
    expect(made.code).toBe(0)
    const { key: secret, entry } = JSON.parse(made.out) as { key: string; entry: string }
    const parsed = parseApiKeys(entry)
    if (!parsed.ok) throw new Error(parsed.problems.join('; '))
    expect(await createApiKeyVerifier(parsed.keys).verify(secret)).toMatchObject({
      id: 'alice2',
      role: 'client',
    })
  })

  it('makes an NKEY identity and a card-token key pair that work', async () => {
    const nkey = JSON.parse(key('nkey').out) as { seed: string; publicKey: string }
    expect(publicKeyOfSeed(nkey.seed)).toBe(nkey.publicKey)
    const { publicJwk, privateJwk } = JSON.parse(key('sealing').out) as {
      publicJwk: JsonWebKey
      privateJwk: JsonWebKey
    }
    const sealed = await (await createTokenSealer(publicJwk)).seal('tok_ok', 'o1')
    expect(await (await createTokenOpener([privateJwk])).open(sealed, 'o1')).toBe('tok_ok')
  })

  it('prints a secret bare, 32 random bytes in base64url', () => {
    const { code, out } = key('secret')
    expect(code).toBe(0)
    expect(out).toMatch(/^[A-Za-z0-9_-]{43}\n$/)
  })

  it('refuses what it does not know, saying what and with its usage, and prints nothing on stdout', () => {
    for (const [args, what] of [
      [['bogus'], 'unknown kind "bogus"'],
      [['api-key', 'Alice', 'client'], 'the id must be'],
      [['api-key', 'alice', 'root'], 'the role must be client or admin; got "root"'],
      [['nkey', 'extra'], 'nkey takes no arguments; got extra'],
      [['api-key', 'a', 'client', 'x'], 'api-key takes an id and a role; got x'],
      [['api-key'], 'api-key takes an id and a role'],
      [[], 'which kind of key?'],
    ] as const) {
      const run = key(...args)
      expect(run.code, args.join(' ')).toBe(1)
      expect(run.out).toBe('')
      expect(run.err).toContain(`key: ${what}`)
      expect(run.err).toContain('usage: npm run -s key')
    }
  })

  it('prints its usage on --help, exit 0', () => {
    const run = key('--help')
    expect([run.code, run.out]).toStrictEqual([0, expect.stringMatching(/^usage: npm run -s key/)])
  })
})
