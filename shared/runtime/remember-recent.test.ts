import { describe, expect, it } from 'vitest'
import { rememberRecent } from './remember-recent.ts'

describe('rememberRecent', () => {
  it('keeps at most max entries, dropping the least recently set and returning it', () => {
    const map = new Map<string, number>()
    expect(rememberRecent(map, 'a', 1, 2)).toBeUndefined()
    expect(rememberRecent(map, 'b', 2, 2)).toBeUndefined()
    expect(rememberRecent(map, 'c', 3, 2)).toEqual(['a', 1])
    expect([...map]).toEqual([
      ['b', 2],
      ['c', 3],
    ])
  })

  it('moves a key set again to the newest place, so it outlives keys set after it the first time', () => {
    const map = new Map<string, number>()
    rememberRecent(map, 'a', 1, 2)
    rememberRecent(map, 'b', 2, 2)
    expect(rememberRecent(map, 'a', 10, 2)).toBeUndefined()
    expect(rememberRecent(map, 'c', 3, 2)).toEqual(['b', 2])
    expect([...map]).toEqual([
      ['a', 10],
      ['c', 3],
    ])
  })

  it('with max 0 remembers nothing', () => {
    const map = new Map<string, number>()
    expect(rememberRecent(map, 'a', 1, 0)).toEqual(['a', 1])
    expect(map.size).toBe(0)
  })
})
