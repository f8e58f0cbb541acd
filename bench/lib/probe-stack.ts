// What the saga probes (bench/probes/worker-profiles.ts, stage-latency.ts)
// share: the bench's nats-server, provisioned with the run's own secrets, the
// load generator, and the saga started from the given worker executables;
// everything stopped (and the folder removed unless kept) however the probe
// ends.
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BUN, bundleForNode, WORKER_ENTRY, WORKERS, type WorkerName } from './builds.ts'
import { settingsFor } from './context.ts'
import { startBenchNats, type BenchNats } from './nats.ts'
import { stopAllProcesses } from './processes.ts'
import { startSaga, type SagaStack } from './saga.ts'
import { createBenchSecurity, type BenchSecurity } from './security.ts'

export interface ProbeStack {
  nats: BenchNats
  security: BenchSecurity
  saga: SagaStack
  /** The load generator's bundle (runGenerator). */
  generator: string
}

/**
 * One `#!/bin/sh` per worker in `dir` that runs `[env <env>] bun [flags] <its entry>`
 * from source: `env` as written (runtime options such as `BUN_JSC_logGC=1`), `flags` Bun's.
 */
export function sourceWorkers(
  dir: string,
  { env = '', flags = () => '' }: { env?: string; flags?: (worker: WorkerName) => string } = {},
): Record<WorkerName, string> {
  mkdirSync(dir, { recursive: true })
  const paths = {} as Record<WorkerName, string>
  for (const w of WORKERS) {
    paths[w] = join(dir, w)
    const prefix = env.trim() === '' ? '' : `env ${env} `
    writeFileSync(paths[w], `#!/bin/sh\nexec ${prefix}${BUN} ${flags(w)} ${WORKER_ENTRY[w]}\n`)
    chmodSync(paths[w], 0o755)
  }
  return paths
}

/**
 * Runs `probe` against a fresh stack in `tmp`, prints the lines it returns,
 * and exits (1 when anything failed, keeping `tmp` to read the logs).
 */
export async function runProbe(
  {
    tmp,
    workers,
    workerEnv = {},
    keep = false,
    log,
  }: {
    tmp: string
    workers: { how: string; paths: Record<WorkerName, string> }
    workerEnv?: Record<string, string>
    keep?: boolean
    log: (line: string) => void
  },
  probe: (stack: ProbeStack) => Promise<string[]>,
): Promise<never> {
  mkdirSync(join(tmp, 'logs'), { recursive: true })
  const security = await createBenchSecurity()
  const nats = await startBenchNats(tmp, security)
  let failed = false
  try {
    await security.provision(nats.url)
    const generator = bundleForNode('bench/load/generator.ts', join(tmp, 'generator.mjs'))
    const settings = settingsFor(true)
    const saga = await startSaga(
      { settings, nats, security, tmp, logDir: join(tmp, 'logs'), log, generator, expressPeer: '', workers },
      workerEnv,
    )
    try {
      process.stdout.write(`${(await probe({ nats, security, saga, generator })).join('\n')}\n`)
    } finally {
      await saga.stop()
    }
  } catch (error) {
    failed = true
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  } finally {
    await stopAllProcesses()
    await nats.stop()
    if (keep || failed) log(`kept ${tmp}`)
    else rmSync(tmp, { recursive: true, force: true })
  }
  process.exit(failed ? 1 : 0)
}
