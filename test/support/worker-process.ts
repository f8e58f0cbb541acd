// One worker of the saga as its own process (`bun run workers/<name>/main.ts`),
// and what fault tests do to it: kill -9, then start it again on the same port.
import { join } from 'node:path'
import { BINARIES, type BinaryName } from '../../scripts/build.ts'
import { spawnService, ServiceStartError, type ServiceHandle } from '../harness/process.ts'
import { workerSecrets } from '../harness/test-secrets.ts'

const ROOT = join(import.meta.dirname, '..', '..')
export const BUN = join(ROOT, 'node_modules', '.bin', 'bun')

export type Command = (worker: string) => { cmd: string; args: string[] }

/** `bun run <the worker's entry>` by default; a test may run compiled binaries instead. */
export const bunRun: Command = (worker) => ({
  cmd: BUN,
  args: ['run', BINARIES[worker as BinaryName] ?? `workers/${worker}/main.ts`],
})

export interface ServiceProcess {
  /** The running process; `reviveWorker` swaps in the new one. */
  handle: ServiceHandle
  /** http://127.0.0.1:PORT, the same after `reviveWorker`. */
  url: string
  /** How it was started, so it can be started again. */
  readonly worker: string
  readonly env: Readonly<Record<string, string>>
  readonly command: Command
  readonly maxLines: number
}

export interface StartWorkerOptions {
  /** Output lines kept in memory (default 5000). */
  maxLines?: number
}

const READY_LINE = /"msg":"[a-z-]* ?listening"/

export async function startWorker(
  worker: string,
  env: Record<string, string>,
  command: Command = bunRun,
  { maxLines = 5_000 }: StartWorkerOptions = {},
): Promise<ServiceProcess> {
  const handle = await spawnWorker(worker, env, command, maxLines)
  const line = handle.lines().find((l) => READY_LINE.test(l)) ?? ''
  const { port } = JSON.parse(line) as { port: number }
  return { handle, url: `http://127.0.0.1:${port}`, worker, env, command, maxLines }
}

async function spawnWorker(
  worker: string,
  env: Record<string, string>,
  command: Command,
  maxLines: number,
): Promise<ServiceHandle> {
  const { cmd, args } = command(worker)
  // Each worker gets its own NATS identity and only the keys it needs; a test's env wins.
  const secrets = await workerSecrets(worker)
  return spawnService({
    cmd,
    args,
    cwd: ROOT,
    env: { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...secrets, ...env },
    readyLine: READY_LINE,
    readyTimeoutMs: 30_000,
    maxLines,
  })
}

/** kill -9 of the worker's process group (a crash); resolves once it has exited. */
export async function crashWorker(proc: ServiceProcess): Promise<void> {
  await proc.handle.kill()
}

/**
 * Starts the worker again on its port with its environment and makes it
 * `proc.handle`. Returns the previous handle, whose output stays readable.
 * A port the kernel has not let go of yet is tried again, a few times.
 */
export async function reviveWorker(
  proc: ServiceProcess,
  { attempts = 3 }: { attempts?: number } = {},
): Promise<ServiceHandle> {
  const previous = proc.handle
  if (previous.running) throw new Error(`${proc.worker} at ${proc.url} is still running`)
  const env = { ...proc.env, PORT: new URL(proc.url).port }
  for (let attempt = 1; ; attempt++) {
    try {
      proc.handle = await spawnWorker(proc.worker, env, proc.command, proc.maxLines)
      return previous
    } catch (error) {
      if (!(error instanceof ServiceStartError) || attempt >= attempts) throw error
    }
  }
}
