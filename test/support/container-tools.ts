// The container tools the compose test drives (podman, Docker Compose v2 as
// installed by scripts/container/install-tools.sh), a bounded command runner,
// and `podman system service` as a Docker API socket for compose.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findOnPath } from '../../scripts/nats-server-bin.ts'
import { spawnService } from '../harness/process.ts'
import { waitFor } from '../harness/wait-for.ts'

export const ROOT = join(import.meta.dirname, '..', '..')
const TOOLS = join(ROOT, '.local', 'container-tools')

export interface ContainerTools {
  podman: string
  /** Docker Compose v2, run standalone (it is also a docker CLI plugin). */
  compose: string
  /** The private containers.conf (runc, ulimits, pull_policy never), as CONTAINERS_CONF. */
  containersConf: string
}

/** The tools, or what is missing (with the command that installs it). */
export function findContainerTools(): ContainerTools | { missing: string } {
  const podman = findOnPath('podman')
  const compose = join(TOOLS, 'docker', 'cli-plugins', 'docker-compose')
  const containersConf = join(TOOLS, 'containers.conf')
  const missing = [
    podman === undefined ? 'podman' : '',
    existsSync(compose) ? '' : compose,
    existsSync(containersConf) ? '' : containersConf,
  ].filter(Boolean)
  if (podman === undefined || missing.length > 0) {
    return { missing: `${missing.join(', ')} not found: run bash scripts/container/install-tools.sh` }
  }
  return { podman, compose, containersConf }
}

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

export class CommandError extends Error {
  override readonly name = 'CommandError'
}

export interface RunOptions {
  env?: Record<string, string | undefined>
  /** Killed (SIGKILL) after this long (default 60 s). */
  timeoutMs?: number
  /** Throw a CommandError on a non-zero exit (default true). */
  check?: boolean
}

/** Runs a command to completion with a deadline; output captured. */
export function run(
  cmd: string,
  args: readonly string[],
  { env = {}, timeoutMs = 60_000, check = true }: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(new CommandError(`${cmd}: ${err.message}`, { cause: err }))
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const result = { code, stdout, stderr }
      if (!check || code === 0) return resolve(result)
      const why = signal === 'SIGKILL' ? `killed after ${timeoutMs} ms` : `exit ${code}`
      reject(
        new CommandError(`${cmd} ${args.join(' ')}: ${why}\n${stdout.slice(-4000)}${stderr.slice(-4000)}`),
      )
    })
  })
}

export interface PodmanService extends AsyncDisposable {
  /** unix:///…/podman.sock, for DOCKER_HOST. */
  dockerHost: string
  stop(): Promise<void>
}

/** `podman system service` on a private socket; resolves once it answers /_ping. */
export async function startPodmanService(tools: ContainerTools): Promise<PodmanService> {
  const dir = await mkdtemp(join(tmpdir(), 'order-saga-podman-'))
  const socket = join(dir, 'podman.sock')
  const service = await spawnService({
    cmd: tools.podman,
    args: ['system', 'service', '--time=0', `unix://${socket}`],
    env: { CONTAINERS_CONF: tools.containersConf },
  })
  const stop = async (): Promise<void> => {
    await service.stop(5_000)
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await waitFor(() => ping(socket), {
      timeoutMs: 15_000,
      intervalMs: 100,
      message: 'podman system service to answer /_ping',
    })
  } catch (error) {
    await stop()
    throw new Error(`podman system service did not start:\n${service.lines().join('\n')}`, { cause: error })
  }
  return { dockerHost: `unix://${socket}`, stop, [Symbol.asyncDispose]: stop }
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 1_000 }, (res) => {
      res.resume()
      resolve(res.statusCode === 200)
    })
    req.once('error', () => resolve(false))
    req.once('timeout', () => req.destroy())
    req.end()
  })
}
