import { describe, expect, it } from 'vitest'
import { logEvery } from './log-every.ts'
import type { LogFields } from './log.ts'

describe('logEvery', () => {
  it('says a lasting condition once per interval, with how often it happened between, and the rest at debug', () => {
    const lines: [string, LogFields][] = []
    const at =
      (level: string) =>
      (fields: LogFields | string): void => {
        if (typeof fields !== 'string') lines.push([level, fields])
      }
    const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }
    let now = 0
    const unavailable = logEvery('warn', 'NATS unavailable', 60_000, () => now)
    unavailable(logger, { path: '/a' })
    for (now = 1; now < 60_000; now += 20_000) unavailable(logger, { path: '/b' })
    now = 60_000
    unavailable(logger, { path: '/c' })
    expect(lines).toStrictEqual([
      ['warn', { path: '/a' }],
      ['debug', { path: '/b' }],
      ['debug', { path: '/b' }],
      ['debug', { path: '/b' }],
      ['warn', { path: '/c', since: 3 }],
    ])
  })
})
