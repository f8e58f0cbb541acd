import { describe, expect, it } from 'vitest'
import { isJsonContentType, parseJsonBody } from './json-body.ts'

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
