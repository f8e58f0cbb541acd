import { describe, expect, it } from 'vitest'
import { ConfigError } from '../config/load-config.ts'
import { logFormatFromEnv } from './logger.ts'

describe('logFormatFromEnv', () => {
  it.each([
    [{}, 'json'],
    [{ LOG_FORMAT: '' }, 'json'],
    [{ LOG_FORMAT: 'json' }, 'json'],
    [{ LOG_FORMAT: 'pretty' }, 'pretty'],
  ] as const)('reads %j as %s', (env, format) => {
    expect(logFormatFromEnv(env)).toBe(format)
  })

  it('rejects any other value with a message naming the variable and the choices', () => {
    expect(() => logFormatFromEnv({ LOG_FORMAT: 'Pretty' })).toThrow(ConfigError)
    expect(() => logFormatFromEnv({ LOG_FORMAT: 'Pretty' })).toThrow(
      'LOG_FORMAT: must be json or pretty, got "Pretty"',
    )
  })
})
