import { logEvery } from '../../shared/observability/log-every.ts'
import { natsRefusalLines } from '../../shared/observability/nats-refusal-lines.ts'

/** The intake's once-a-minute lines: NATS refusals, and the edge's readiness probe. */
export function intakeOperatorLines() {
  return {
    ...natsRefusalLines(),
    /** The edge's readiness probe (connect-per-request.ts). */
    notReady: logEvery('warn', 'readiness: NATS unreachable'),
  }
}
export type IntakeOperatorLines = ReturnType<typeof intakeOperatorLines>
