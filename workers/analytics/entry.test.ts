import { describe, expect, it } from 'vitest'
import { loadAnalyticsConfig } from './config.ts'
import { withReplayFlag } from './entry.ts'

describe('analytics --from', () => {
  it.each([
    [['--from', '2026-01-01T00:00:00Z'], '2026-01-01T00:00:00Z', []],
    [['--from=2026-01-01T00:00:00Z', '--help'], '2026-01-01T00:00:00Z', ['--help']],
    [['healthcheck'], undefined, ['healthcheck']],
  ])('%j sets ANALYTICS_REPLAY_FROM to %s', (argv, from, rest) => {
    const parsed = withReplayFlag(argv, { PORT: '1' })
    expect(parsed).toStrictEqual({
      argv: rest,
      env: from === undefined ? { PORT: '1' } : { PORT: '1', ANALYTICS_REPLAY_FROM: from },
    })
  })

  it('wants a time after --from', () => {
    expect(withReplayFlag(['--from'], {})).toMatchObject({
      error: expect.stringContaining('--from needs a time'),
    })
  })

  it('refuses a time that is not ISO 8601, naming the setting', () => {
    expect(() =>
      loadAnalyticsConfig({ API_KEYS: 'ops:admin:' + 'a'.repeat(64), ANALYTICS_REPLAY_FROM: 'yesterday' }),
    ).toThrow(/ANALYTICS_REPLAY_FROM: must be an ISO 8601 timestamp/)
    const config = loadAnalyticsConfig({
      API_KEYS: 'ops:admin:' + 'a'.repeat(64),
      ANALYTICS_REPLAY_FROM: '2026-01-01T00:00:00Z',
    })
    expect(config.ANALYTICS_REPLAY_FROM).toStrictEqual(new Date('2026-01-01T00:00:00Z'))
    expect(config.PORT).toBe(3005)
  })
})
