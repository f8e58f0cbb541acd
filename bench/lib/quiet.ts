// Waits (bounded) for the machine to be quiet before measuring: other work on
// two cores moves every figure.
import { currentLoad } from './machine.ts'

export async function waitForQuiet({
  below,
  maxWaitMs,
  pollMs,
  log,
}: {
  below: number
  maxWaitMs: number
  pollMs: number
  log: (m: string) => void
}): Promise<boolean> {
  const deadline = Date.now() + maxWaitMs
  for (;;) {
    const [one] = currentLoad()
    if (one < below) return true
    if (Date.now() >= deadline) {
      log(
        `load average ${one} still >= ${below} after ${Math.round(maxWaitMs / 1000)} s; measuring anyway (recorded in the results)`,
      )
      return false
    }
    log(
      `load average ${one} >= ${below}; waiting (up to ${Math.round((deadline - Date.now()) / 1000)} s more)`,
    )
    await new Promise((resolve) => setTimeout(resolve, Math.min(pollMs, Math.max(0, deadline - Date.now()))))
  }
}
