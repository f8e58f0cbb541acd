import { describe, expect, it } from 'vitest'
import { createCachedCheck } from './cached-check.ts'

describe('a cached check', () => {
  it('runs one probe for the callers that ask together, answers from it until it is stale, then probes again', async () => {
    let clock = 0
    let probes = 0
    let release: (value: string) => void = () => undefined
    const check = createCachedCheck<string>(1_000, () => clock)
    const probe = () => {
      probes++
      return new Promise<string>((resolve) => (release = resolve))
    }
    const together = [check(probe), check(probe), check(probe)]
    release('first')
    expect(await Promise.all(together)).toStrictEqual(['first', 'first', 'first'])
    clock = 999
    expect(await check(probe)).toBe('first')
    expect(probes).toBe(1)
    clock = 1_000
    const again = check(probe)
    release('second')
    expect(await again).toBe('second')
    expect(probes).toBe(2)
  })

  it('keeps no failed probe: the next caller probes again', async () => {
    const check = createCachedCheck<string>(1_000, () => 0)
    await expect(check(() => Promise.reject(new Error('down')))).rejects.toThrow('down')
    expect(await check(() => Promise.resolve('up'))).toBe('up')
  })
})
