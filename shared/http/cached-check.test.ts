import { describe, expect, it } from 'vitest'
import { createCachedCheck } from './cached-check.ts'

describe('a cached check', () => {
  it('runs one probe for the callers that ask together, answers from it until it is stale, then probes again', async () => {
    let clock = 0
    let probes = 0
    let release: (value: string) => void = () => undefined
    const check = createCachedCheck<string>(1_000, { now: () => clock })
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
    const check = createCachedCheck<string>(1_000, { now: () => 0 })
    await expect(check(() => Promise.reject(new Error('down')))).rejects.toThrow('down')
    expect(await check(() => Promise.resolve('up'))).toBe('up')
  })

  it('holds nobody up on a probe that never settles: each caller gets the timeout answer, and a later one probes again', async () => {
    let probes = 0
    const check = createCachedCheck<string>(1_000, { maxWaitMs: 30, timedOut: () => 'timed out' })
    const stuck = () => {
      probes++
      return new Promise<string>(() => undefined)
    }
    const started = Date.now()
    expect(await Promise.all([check(stuck), check(stuck)])).toStrictEqual(['timed out', 'timed out'])
    expect(Date.now() - started).toBeLessThan(1_000)
    expect(probes).toBe(1)
    // The stuck probe is older than maxWaitMs: left behind for a new one.
    expect(await check(() => Promise.resolve('up'))).toBe('up')
    expect(await check(stuck)).toBe('up')
    expect(probes).toBe(1)
  })

  it('caches no answer of a probe left behind, when it comes after the newer one', async () => {
    const check = createCachedCheck<string>(60_000, { maxWaitMs: 30, timedOut: () => 'timed out' })
    let finishOld: (value: string) => void = () => undefined
    expect(await check(() => new Promise<string>((resolve) => (finishOld = resolve)))).toBe('timed out')
    // A timer may fire a millisecond early by the clock: be past the wait for sure.
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(await check(() => Promise.resolve('new'))).toBe('new')
    finishOld('old')
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(await check(() => Promise.resolve('probed again'))).toBe('new')
  })
})
