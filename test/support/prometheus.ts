// A real Prometheus for the tests (Debian's; .ci/run installs it): started on
// a free port with `dir/prometheus.yml`, its data in `dir/data`.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { spawnService, type ServiceHandle } from '../harness/process.ts'
import { freePort } from '../harness/wait-for.ts'

export const PROMETHEUS = '/usr/bin/prometheus'

/** Installed here; CI has it, elsewhere the suites that need it skip. */
export const prometheusAvailable = (): boolean => existsSync(PROMETHEUS) || process.env['CI'] === 'true'

export async function startPrometheus(dir: string): Promise<{ handle: ServiceHandle; url: string }> {
  const port = await freePort()
  const handle = await spawnService({
    cmd: PROMETHEUS,
    args: [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    env: {},
    readyLine: /Server is ready to receive web requests/,
    readyTimeoutMs: 30_000,
  })
  return { handle, url: `http://127.0.0.1:${port}` }
}
