import { describe, expect, it } from 'vitest'
import { addressKey } from './client-address.ts'
import { createRateLimiter } from './rate-limit.ts'

function clock() {
  let t = 1_000_000
  return { now: () => t, advance: (ms: number) => (t += ms) }
}

describe('createRateLimiter', () => {
  it('lets a burst through, then one request per refill, with Retry-After in whole seconds', () => {
    const time = clock()
    const limiter = createRateLimiter({ perSecond: 0.5, burst: 2, now: time.now })
    expect([limiter.take('k'), limiter.take('k')]).toStrictEqual([{ ok: true }, { ok: true }])
    expect(limiter.take('k')).toStrictEqual({ ok: false, retryAfterSeconds: 2 })
    time.advance(1_500)
    expect(limiter.take('k')).toStrictEqual({ ok: false, retryAfterSeconds: 1 })
    time.advance(500)
    expect(limiter.take('k')).toStrictEqual({ ok: true })
    expect(limiter.take('other')).toStrictEqual({ ok: true })
  })

  it('checks without taking', () => {
    const limiter = createRateLimiter({ perSecond: 1, burst: 1, now: clock().now })
    expect(limiter.check('k')).toStrictEqual({ ok: true })
    expect(limiter.check('k')).toStrictEqual({ ok: true })
    limiter.take('k')
    expect(limiter.check('k')).toStrictEqual({ ok: false, retryAfterSeconds: 1 })
  })

  it('never holds more than maxBuckets, and drops buckets once they are full again', () => {
    const time = clock()
    const limiter = createRateLimiter({ perSecond: 10, burst: 20, maxBuckets: 100, now: time.now })
    for (let i = 0; i < 100_000; i++) limiter.take(`address:${i}`)
    expect(limiter.size()).toBe(100)
    time.advance(2_000) // 20 tokens at 10/s: every bucket is full again
    limiter.take('fresh')
    expect(limiter.size()).toBe(1)
  })

  it('keeps the newest buckets when it must evict: a busy key stays limited', () => {
    const time = clock()
    const limiter = createRateLimiter({ perSecond: 1, burst: 1, maxBuckets: 10, now: time.now })
    limiter.take('busy')
    for (let i = 0; i < 5; i++) limiter.take(`address:${i}`)
    expect(limiter.take('busy').ok).toBe(false)
    for (let i = 5; i < 14; i++) limiter.take(`address:${i}`)
    expect(limiter.size()).toBe(10)
  })
})

describe('addressKey', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:0db8:0001:0002::9', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('limits %s as %s', (address, key) => {
    expect(addressKey(address)).toBe(key)
  })
})
