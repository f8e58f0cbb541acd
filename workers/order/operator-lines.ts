import { logEvery } from '../../shared/observability/log-every.ts'

/** Operators' matters that last: said once a minute (every refused request would flood the log). */
export function intakeOperatorLines() {
  return {
    storageFull: logEvery('error', 'NATS storage full: raise a size cap'),
    unavailable: logEvery('warn', 'NATS unavailable; answering 503'),
    /** The edge's readiness probe (connect-per-request.ts). */
    notReady: logEvery('warn', 'readiness: NATS unreachable'),
  }
}
export type IntakeOperatorLines = ReturnType<typeof intakeOperatorLines>
