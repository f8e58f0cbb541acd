// Starting an HTTP service for the bench on a free port and waiting for it to answer.
import { join } from 'node:path'
import { freePort } from '../../test/harness/wait-for.ts'
import { ROOT } from './builds.ts'
import { spawnLogged, tailOf, waitHttpOk, type BenchProcess } from './processes.ts'

export interface BenchService {
  name: string
  url: string
  proc: BenchProcess
  /** Spawn to first 200 of the ready path. */
  readyMs: number
}

export interface ServiceSpec {
  name: string
  cmd: string
  args?: string[]
  env?: Record<string, string>
  logDir: string
  readyPath?: string
  timeoutMs?: number
}

/** Starts one service with PORT/HOST set and resolves once `readyPath` answers 200. */
export async function startService({
  name,
  cmd,
  args = [],
  env = {},
  logDir,
  readyPath = '/ready',
  timeoutMs = 30_000,
}: ServiceSpec): Promise<BenchService> {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const since = performance.now()
  const proc = spawnLogged({
    name,
    cmd,
    args,
    cwd: ROOT,
    env: {
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      NATS_CONNECT_TIMEOUT_MS: '10000',
      ...env,
      PORT: String(port),
    },
    logFile: join(logDir, `${name}.log`),
  })
  try {
    const readyMs = await Promise.race([
      waitHttpOk(`${url}${readyPath}`, { timeoutMs, intervalMs: 2, since }),
      proc.exited.then((code) => Promise.reject(new Error(`exited with ${code}`))),
    ])
    return { name, url, proc, readyMs }
  } catch (error) {
    await proc.stop(1_000)
    throw new Error(
      `${name} did not get ready: ${error instanceof Error ? error.message : String(error)}\n${tailOf(proc.logFile)}`,
      { cause: error },
    )
  }
}
