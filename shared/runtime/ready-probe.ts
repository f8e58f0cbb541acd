/**
 * `<service> healthcheck`: GET the service's own `/ready`. Exit code 0 on a
 * 200 within 2 s; otherwise 1, with one line on stderr saying why (no answer,
 * the time ran out, or the status and the reason the service gave), so a
 * container's health log tells what to look at.
 */
import { ConfigError } from '../config/load-config.ts'

const PROBE_TIMEOUT_MS = 2_000

export async function probeReady(
  name: string,
  url: string,
  write: (line: string) => void = (line) => void process.stderr.write(line),
): Promise<number> {
  const fail = (why: string): number => {
    write(`${name} healthcheck: ${url} ${why}\n`)
    return 1
  }
  let res: Response
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
  } catch (error) {
    if (error instanceof Error && error.name === 'TimeoutError')
      return fail(`did not answer within ${PROBE_TIMEOUT_MS / 1000} s`)
    return fail(`did not answer: ${error instanceof Error ? error.message : String(error)}`)
  }
  if (res.status === 200) return 0
  const body = await res.text().catch(() => '')
  let reason: unknown
  try {
    reason = (JSON.parse(body) as { reason?: unknown }).reason
  } catch {
    reason = undefined
  }
  return fail(`answered ${res.status}${typeof reason === 'string' ? `: ${reason}` : ''}`)
}

/** The line a probe with a bad PORT or HOST prints before it exits 1 (the service never listened). */
export function probeConfigFailed(
  name: string,
  error: unknown,
  write: (line: string) => void = (line) => void process.stderr.write(line),
): number {
  const problems =
    error instanceof ConfigError
      ? error.problems.join('; ')
      : error instanceof Error
        ? error.message
        : String(error)
  write(`${name} healthcheck: ${problems}\n`)
  return 1
}
