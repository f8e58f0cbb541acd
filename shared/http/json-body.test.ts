import { describe, expect, it } from 'vitest'
import { Hono } from 'hono'
import {
  contentCodingProblem,
  isJsonContentType,
  namesAMemberTwice,
  parseJsonBody,
  readJsonBody,
} from './json-body.ts'

describe('isJsonContentType', () => {
  it.each([
    'application/json',
    'Application/JSON',
    'application/json; charset=utf-8',
    'application/json;charset=UTF-8',
    'application/json; charset="utf-8"',
    'application/json; charset=utf8',
    'application/json; charset=US-ASCII',
    'application/json ; foo=bar',
  ])('takes %j', (type) => {
    expect(isJsonContentType(type)).toBe(true)
  })

  it.each([
    undefined,
    '',
    'text/plain',
    'application/jsonx',
    'application/merge-patch+json',
    'application/vnd.api+json',
    'application/problem+json',
    'application/json; charset=utf-16',
    'application/json; charset=iso-8859-1',
    'application/json; charset=utf-8; charset=latin1',
    'multipart/form-data; boundary=x',
    'x application/json',
  ])('refuses %j', (type) => {
    expect(isJsonContentType(type)).toBe(false)
  })
})

describe('parseJsonBody', () => {
  it('parses JSON and reports anything else', () => {
    expect(parseJsonBody('{"a":1}')).toStrictEqual({ ok: true, value: { a: 1 } })
    expect(parseJsonBody('{"a":')).toStrictEqual({ ok: false })
  })
})

describe('namesAMemberTwice', () => {
  it.each([
    ['{"a":1,"a":2}', true],
    ['{"a":1,"b":{"c":1,"c":2}}', true],
    ['[{"a":1},{"a":1,"a":1}]', true],
    ['{"a":1,"\\u0061":2}', true],
    ['{"a\\"b":1,"a\\"b":2}', true],
    ['{"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]}', false],
    ['{"a":"a","b":"a","c":["a","a"]}', false],
    ['{"a":{},"b":[],"c":{"d":[1,{"e":{}}]},"d":1}', false],
    ['{"a\\\\":1,"a":2}', false],
    ['["a","a"]', false],
    ['"a"', false],
  ])('%s -> %s', (text, twice) => {
    expect(JSON.parse(text)).toBeDefined()
    expect(namesAMemberTwice(text)).toBe(twice)
  })
})

describe('readJsonBody', () => {
  const app = new Hono().post('/', async (c) => c.json(await readJsonBody(c)))
  const read = async (body: Uint8Array<ArrayBuffer> | string) =>
    (await app.request('/', { method: 'POST', body })).json() as Promise<unknown>

  it('refuses an object that names a member twice (JSON.parse would keep the last)', async () => {
    expect(await read('{"amountCents":5,"amountCents":7}')).toStrictEqual({
      ok: false,
      message: 'the body names a member twice in one object',
    })
  })

  it('reads UTF-8 JSON, a byte order mark ignored', async () => {
    expect(await read('{"name":"Zoë 🍕"}')).toStrictEqual({ ok: true, value: { name: 'Zoë 🍕' } })
    expect(await read(Uint8Array.from([0xef, 0xbb, 0xbf, 0x5b, 0x31, 0x5d]))).toStrictEqual({
      ok: true,
      value: [1],
    })
  })

  it.each([
    ['a Latin-1 byte', [0x22, 0xe9, 0x22]],
    ['a truncated sequence', [0x22, 0xf0, 0x9f, 0x8d, 0x22]],
    ['an overlong encoding', [0x22, 0xc0, 0xaf, 0x22]],
    ['a UTF-16 surrogate', [0x22, 0xed, 0xa0, 0x80, 0x22]],
  ])('refuses %s instead of reading U+FFFD', async (_, bytes) => {
    expect(await read(Uint8Array.from(bytes))).toStrictEqual({
      ok: false,
      message: 'the body is not valid UTF-8',
    })
  })

  it('refuses text that is not JSON', async () => {
    expect(await read('{"a":')).toStrictEqual({ ok: false, message: 'the body is not valid JSON' })
  })
})

describe('contentCodingProblem', () => {
  it('takes none or identity, and refuses any coding it would not decode', () => {
    expect([undefined, '', 'identity', ' Identity '].map(contentCodingProblem)).toStrictEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ])
    for (const coding of ['gzip', 'br', 'deflate', 'gzip, identity'])
      expect(contentCodingProblem(coding)).toMatch(/Content-Encoding/)
  })
})
