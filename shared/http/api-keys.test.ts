import { Hono } from 'hono'
import { createRateLimiter } from './rate-limit.ts'
import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../config/load-config.ts'
import { TEST_KEYS, testApiKeysSetting } from './api-keys-fixture.ts'
import {
  apiKeysFromEnv,
  createApiKeyVerifier,
  createSecretVerifier,
  parseApiKeys,
  sha256,
  toHex,
} from './api-keys.ts'
import { bearerToken, requireApiKey } from './auth.ts'

const digest = async (key: string) => toHex(await sha256(key))

describe('API_KEYS', () => {
  it('reads entries separated by commas or newlines, with blank lines and spaces around', async () => {
    const text = `\n alice:client:${await digest('k1')} \n\nops:admin:${(await digest('k2')).toUpperCase()},bob:client:${await digest('k3')}\n`
    const parsed = parseApiKeys(text)
    if (!parsed.ok) throw new Error(parsed.problems.join('; '))
    expect(parsed.keys.map(({ id, role }) => ({ id, role }))).toStrictEqual([
      { id: 'alice', role: 'client' },
      { id: 'ops', role: 'admin' },
      { id: 'bob', role: 'client' },
    ])
  })

  it('reports every bad entry by number, never quoting a digest', async () => {
    const [d1, d2, d3] = await Promise.all([digest('k1'), digest('k2'), digest('k3')])
    const parsed = parseApiKeys(
      [
        `alice:client:${d1}`,
        `Bad:client:${d2}`,
        `bob:root:${d2.slice(1)}`,
        `carol:client:${d1}`,
        'just-text',
        `alice:admin:${d3}`,
      ].join(','),
    )
    expect(parsed).toStrictEqual({
      ok: false,
      problems: [
        'entry 2: the id must be 1-64 characters of a-z, 0-9, _ and -',
        'entry 3: the role must be client or admin',
        'entry 3: the digest must be 64 hex digits (sha256 of the key)',
        'entry 4: the same key digest is used twice',
        'entry 5: must be <id>:<role>:<sha256 hex of the key>',
        'entry 6: the id alice has role client in entry 1; one id has one role',
      ],
    })
    expect(JSON.stringify(parsed)).not.toContain(d1.slice(0, 16))
  })

  it('takes several digests under one id and role, for rotation: each key is that id', async () => {
    const parsed = parseApiKeys(
      [
        `alice:client:${await digest('old')}`,
        `ops:admin:${await digest('k2')}`,
        `alice:client:${await digest('new')}`,
      ].join('\n'),
    )
    if (!parsed.ok) throw new Error(parsed.problems.join('; '))
    const verifier = createApiKeyVerifier(parsed.keys)
    expect(await verifier.verify('old')).toStrictEqual({ id: 'alice', role: 'client' })
    expect(await verifier.verify('new')).toStrictEqual({ id: 'alice', role: 'client' })
    expect(await verifier.verify('k2')).toStrictEqual({ id: 'ops', role: 'admin' })
  })

  it('is a required setting whose problems fail the config with the variable named', () => {
    const schema = v.object({ API_KEYS: apiKeysFromEnv })
    expect(() => loadConfig(schema, {})).toThrow('API_KEYS: is required')
    expect(() => loadConfig(schema, { API_KEYS: ' , \n' })).toThrow(
      'API_KEYS: must list at least one key as <id>:<role>:<sha256 hex>',
    )
    expect(() => loadConfig(schema, { API_KEYS: 'a:client:12' })).toThrow(
      'API_KEYS: entry 1: the digest must be 64 hex digits (sha256 of the key)',
    )
  })

  it('verifies a key by its digest and finds its id and role; anything else is null', async () => {
    const parsed = parseApiKeys(await testApiKeysSetting())
    if (!parsed.ok) throw new Error('fixture')
    const verifier = createApiKeyVerifier(parsed.keys)
    expect(await verifier.verify(TEST_KEYS.alice.key)).toStrictEqual({ id: 'alice', role: 'client' })
    expect(await verifier.verify(TEST_KEYS.ops.key)).toStrictEqual({ id: 'ops', role: 'admin' })
    for (const wrong of ['', 'sk_client_alice', await digest(TEST_KEYS.alice.key), 'x'.repeat(10_000)]) {
      expect(await verifier.verify(wrong)).toBeNull()
    }
  })

  it('verifies one shared secret', async () => {
    const verifier = createSecretVerifier('gw_sk_1', 'payment')
    expect(await verifier.verify('gw_sk_1')).toStrictEqual({ id: 'payment', role: 'admin' })
    expect(await verifier.verify('gw_sk_2')).toBeNull()
  })
})

describe('sha256', () => {
  it('gives the standard digest, the same bytes as WebCrypto for any string', async () => {
    expect(toHex(await sha256('abc'))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    )
    for (const text of ['', 'sk_client_alice', 'clé-ünïcødé-🔑', 'lone \ud800 surrogate', 'x'.repeat(512)]) {
      const web = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
      expect(await sha256(text)).toStrictEqual(web)
    }
  })
})

describe('bearerToken', () => {
  it.each([
    ['Bearer abc', 'abc'],
    ['bearer   abc ', 'abc'],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['Basic YTpi', undefined],
    [undefined, undefined],
  ])('reads %j as %j', (header, token) => {
    expect(bearerToken(header)).toBe(token)
  })
})

describe('requireApiKey', () => {
  it('marks what needed a key no-store, over any caching its route set; public routes are left alone', async () => {
    const parsed = parseApiKeys(await testApiKeysSetting())
    if (!parsed.ok) throw new Error(parsed.problems.join('; '))
    const app = new Hono()
    const key = requireApiKey({ verifier: createApiKeyVerifier(parsed.keys), roles: ['client', 'admin'] })
    app.get('/private', key, (c) => c.json({ email: 'a@example.com' }))
    app.get('/own', key, (c) => c.text('x', 200, { 'Cache-Control': 'no-cache' }))
    app.get('/public', (c) => c.json({ ok: true }))
    const get = (path: string, headers: Record<string, string> = {}) => app.request(path, { headers })
    const alice = { Authorization: `Bearer ${TEST_KEYS.alice.key}` }
    expect((await get('/private', alice)).headers.get('Cache-Control')).toBe('no-store')
    expect((await get('/own', alice)).headers.get('Cache-Control')).toBe('no-store')
    expect((await get('/public')).headers.get('Cache-Control')).toBeNull()
    // Its refusals too: no key (401), a key of another role (403), a key over its rate (429).
    const refused = await get('/private')
    expect([refused.status, refused.headers.get('Cache-Control')]).toStrictEqual([401, 'no-store'])
    const adminOnly = new Hono()
    adminOnly.get(
      '/x',
      requireApiKey({
        verifier: createApiKeyVerifier(parsed.keys),
        roles: ['admin'],
        limiter: createRateLimiter({ perSecond: 1, burst: 1 }),
      }),
      (c) => c.text('x'),
    )
    const first = await adminOnly.request('/x', { headers: alice })
    const second = await adminOnly.request('/x', { headers: alice })
    expect([first.status, first.headers.get('Cache-Control')]).toStrictEqual([403, 'no-store'])
    expect([second.status, second.headers.get('Cache-Control')]).toStrictEqual([429, 'no-store'])
  })
})
