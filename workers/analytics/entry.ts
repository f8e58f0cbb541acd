// The analytics worker as a runnable entry (config, start); `main.ts` runs it,
// the multi-call binary dispatches to it. `--from <time>` is ANALYTICS_REPLAY_FROM.
import { connect } from '@nats-io/transport-node'
import { main, type ServiceEntry } from '../../shared/runtime/run-service.ts'
import { exitWith } from '../../shared/runtime/server.ts'
import { AnalyticsConfigSchema, loadAnalyticsConfig, type AnalyticsConfig } from './config.ts'
import { startAnalyticsService } from './service.ts'

export const analyticsEntry: ServiceEntry<AnalyticsConfig> = {
  name: 'analytics',
  description:
    'analytics worker: per-minute order figures from the order events; GET /analytics/summary, /analytics/stream. ' +
    '--from <ISO time> rebuilds the windows from that minute first',
  options: '[--from <time>]',
  schema: AnalyticsConfigSchema,
  // One message at a time, never dead-lettered, one consumer for both lanes (analytics.md);
  // it publishes no event, so it takes no dead-letter replay.
  unused: [
    'CONSUMER_MAX_DELIVER',
    'CONSUMER_CONCURRENCY',
    'CONSUMER_LANES',
    'LANE_YIELD_MAX_MS',
    'LANE_SIGNAL_HOLD_MS',
    'DEAD_LETTER_REPLAYS',
  ],
  loadConfig: loadAnalyticsConfig,
  start: (config, deps) => startAnalyticsService(config, { ...deps, connect }),
}

type Env = Readonly<Record<string, string | undefined>>

const NEEDS_A_TIME = '--from (ANALYTICS_REPLAY_FROM) needs a time, e.g. --from 2026-01-01T00:00:00Z'

/**
 * `--from <time>` or `--from=<time>` taken out of the arguments as
 * ANALYTICS_REPLAY_FROM (the config checks the time); the rest is left for
 * the shared options (--help, --version, healthcheck).
 */
export function withReplayFlag(
  argv: readonly string[],
  env: Env,
): { argv: string[]; env: Record<string, string | undefined> } | { error: string } {
  const rest: string[] = []
  let from: string | undefined
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? ''
    const flag = arg === '--from' || arg.startsWith('--from=')
    if (flag && from !== undefined) return { error: 'give --from once' }
    if (arg === '--from') {
      from = argv[++i]
      if (from === undefined || from.startsWith('-')) return { error: NEEDS_A_TIME }
    } else if (arg.startsWith('--from=')) from = arg.slice('--from='.length)
    else rest.push(arg)
  }
  // An empty value would read as "not set" and start without the replay asked for.
  if (from !== undefined && from.trim() === '') return { error: NEEDS_A_TIME }
  return { argv: rest, env: from === undefined ? { ...env } : { ...env, ANALYTICS_REPLAY_FROM: from } }
}

/** Runs the worker as the process's main program (`analytics [--from <time>]`). */
export function runAnalytics(argv: readonly string[], env: Env): void {
  const parsed = withReplayFlag(argv, env)
  if ('error' in parsed) return exitWith(`analytics: ${parsed.error}`)
  main(analyticsEntry, parsed.argv, parsed.env)
}
