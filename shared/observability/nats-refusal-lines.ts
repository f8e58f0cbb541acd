import { logEvery } from './log-every.ts'

/**
 * What a service's HTTP routes say when NATS refuses or does not answer: an
 * operator's matter that lasts, said once a minute (every refused request
 * would flood the log). One set per app, or per isolate at the edge.
 */
export function natsRefusalLines() {
  return {
    storageFull: logEvery('error', 'NATS storage full: raise a size cap'),
    unavailable: logEvery('warn', 'NATS unavailable; answering 503'),
  }
}
