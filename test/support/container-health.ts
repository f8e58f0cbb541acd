// What podman 4.3 would do with systemd timers (absent here): run the health check
// of every running container of a compose project, once a second, until stopped.
import type { RunOptions, RunResult } from './container-tools.ts'

export type Podman = (args: readonly string[], opts?: RunOptions) => Promise<RunResult>

export interface HealthLoop {
  /** Ends the loop after the round in progress. */
  stop(): Promise<void>
}

export function startHealthLoop(podman: Podman, project: string, intervalMs = 1_000): HealthLoop {
  let stopped = false
  const quiet = { check: false, timeoutMs: 10_000 }
  const running = [
    'ps',
    '--filter',
    `label=com.docker.compose.project=${project}`,
    '--filter',
    'status=running',
  ]
  const loop = (async () => {
    while (!stopped) {
      const ps = await podman([...running, '--format', '{{.ID}}'], quiet).catch(() => undefined)
      const ids = ps?.stdout.trim().split('\n').filter(Boolean) ?? []
      await Promise.all(ids.map((id) => podman(['healthcheck', 'run', id], quiet).catch(() => undefined)))
      await new Promise((done) => setTimeout(done, intervalMs))
    }
  })()
  return {
    async stop(): Promise<void> {
      stopped = true
      await loop
    },
  }
}
