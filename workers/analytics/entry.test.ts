import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { BUN } from '../../test/support/worker-process.ts'
import { loadAnalyticsConfig } from './config.ts'
import { helpText } from '../../shared/runtime/run-service.ts'
import { analyticsEntry, withReplayFlag } from './entry.ts'

const ROOT = join(import.meta.dirname, '..', '..')

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

  it.each([[['--from']], [['--from=']], [['--from', '']], [['--from', '  ']]])(
    'wants a time after --from: %j',
    (argv) => {
      expect(withReplayFlag(argv, {})).toMatchObject({
        error: expect.stringContaining('--from (ANALYTICS_REPLAY_FROM) needs a time'),
      })
    },
  )

  it.each([
    [['--from', '2026-01-01T00:00:00Z', '--from', '2026-02-01T00:00:00Z']],
    [['--from=2026-01-01T00:00:00Z', '--from=2026-01-01T00:00:00Z']],
    [['--from', '2026-01-01T00:00:00Z', '--from=2026-02-01T00:00:00Z']],
  ])('refuses --from given twice: %j', (argv) => {
    expect(withReplayFlag(argv, {})).toStrictEqual({ error: 'give --from once' })
  })

  it('names --from in its usage line', () => {
    expect(helpText(analyticsEntry)).toContain('Usage: [--from <time>] [--help | --version | healthcheck]')
  })

  it('leaves out of --help the shared settings it does not use (one message at a time, no dead letters, no lanes)', () => {
    const text = helpText(analyticsEntry)
    for (const unused of [
      'CONSUMER_MAX_DELIVER',
      'CONSUMER_CONCURRENCY',
      'CONSUMER_LANES',
      'LANE_SIGNAL_HOLD_MS',
      'DEAD_LETTER_REPLAYS',
    ])
      expect(text).not.toContain(unused)
    expect(text).toContain('CONSUMER_ACK_WAIT_MS')
  })

  it('does not check the settings it does not use: values meant for other services cannot stop it', () => {
    // A shared environment with values the lane workers would refuse, and one bad setting of its own.
    const run = spawnSync(BUN, ['workers/analytics/main.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 20_000,
      env: {
        PATH: process.env['PATH'],
        API_KEYS: 'ops:admin:' + 'a'.repeat(64),
        NATS_URL: 'nats://127.0.0.1:1',
        CONSUMER_MAX_DELIVER: '0',
        CONSUMER_LANES: 'fast',
        LANE_SIGNAL_HOLD_MS: '-1',
        DEAD_LETTER_REPLAYS: 'maybe',
        ANALYTICS_STREAM_MAX_CLIENTS: '0',
      },
    })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('analytics: invalid configuration')
    expect(run.stderr).toContain('ANALYTICS_STREAM_MAX_CLIENTS')
    for (const unused of [
      'CONSUMER_MAX_DELIVER',
      'CONSUMER_LANES',
      'LANE_SIGNAL_HOLD_MS',
      'DEAD_LETTER_REPLAYS',
    ])
      expect(run.stderr).not.toContain(unused)
  })

  it.each([
    'yesterday',
    // Valibot's isoTimestamp takes these; Date.parse cannot read the first
    // two, and rolls the third over to March 2.
    '2026-12-05T00:04:00+01',
    '2026-12-05T10:04:00.5-05',
    '2026-02-30T00:00:00Z',
    '999999999999999',
  ])('refuses ANALYTICS_REPLAY_FROM=%s, naming the setting', (from) => {
    expect(() =>
      loadAnalyticsConfig({ API_KEYS: 'ops:admin:' + 'a'.repeat(64), ANALYTICS_REPLAY_FROM: from }),
    ).toThrow(/ANALYTICS_REPLAY_FROM: must be an ISO 8601 time/)
  })

  it.each([
    ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'],
    ['2026-01-01', '2026-01-01T00:00:00Z'],
    ['2026-01-01T01:00:00+01:00', '2026-01-01T00:00:00Z'],
    [String(Date.parse('2026-01-01T00:00:00Z')), '2026-01-01T00:00:00Z'],
  ])('reads ANALYTICS_REPLAY_FROM=%s as the summary reads its from', (from, at) => {
    const config = loadAnalyticsConfig({
      API_KEYS: 'ops:admin:' + 'a'.repeat(64),
      ANALYTICS_REPLAY_FROM: from,
    })
    expect(config.ANALYTICS_REPLAY_FROM).toStrictEqual(new Date(at))
  })

  it('defaults the rest', () => {
    const config = loadAnalyticsConfig({
      API_KEYS: 'ops:admin:' + 'a'.repeat(64),
      ANALYTICS_REPLAY_FROM: '2026-01-01T00:00:00Z',
    })
    expect(config.ANALYTICS_REPLAY_FROM).toStrictEqual(new Date('2026-01-01T00:00:00Z'))
    expect(config.PORT).toBe(3005)
  })
})
