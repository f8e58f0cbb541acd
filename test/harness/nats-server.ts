// A real JetStream nats-server per test (or suite) on random ports, in a temp dir.
//   await using server = await startNatsServer()
//   const nc = await connect(server.connectOptions())   // admin; or connectOptions('inventory')
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveNatsServer } from '../../scripts/nats-server-bin.ts'
import type { ConnectionOptions } from '@nats-io/nats-core'
import type { Identity } from '../../shared/security/access.ts'
import { natsPublicKeys } from '../../shared/security/deployment-secrets.ts'
import { renderAuthorization } from '../../shared/security/nats-auth-config.ts'
import { createLineBuffer } from './lines.ts'
import { authAs, testSecrets } from './test-secrets.ts'
import { spawnNatsServer, stopNatsProcess } from './nats-process.ts'
import type { NatsProcess } from './nats-process.ts'
import { waitFor } from './wait-for.ts'

export { NatsServerStartError } from './nats-process.ts'

export interface NatsServerOptions {
  /** `server_name` (default: unique per process). */
  name?: string
  /** Listen for WebSocket clients too (default true). */
  websocket?: boolean
  /** Serve the HTTP monitoring endpoints (/varz, /jsz, /healthz) too (default false). */
  monitor?: boolean
  /** Extra config text appended to the generated file. */
  config?: string
  /**
   * Require the saga's NATS identities (default true): the authorization block
   * generated from the access table with the test run's keys; anonymous
   * clients are refused. Connect with `server.connectOptions()`.
   */
  auth?: boolean
  /**
   * With `auth`: the JetStream API guard too (default true; api-guard.ts).
   * False for a test that deletes a stream or a consumer of the saga as admin.
   */
  apiGuard?: boolean
  /** Deadline for "Server is ready" (default 10 s). */
  readyTimeoutMs?: number
  /** How long `stop()` waits after SIGTERM before SIGKILL (default 5 s). */
  stopTimeoutMs?: number
  /** The binary (default: $NATS_SERVER_BIN, else `resolveNatsServer()`). */
  bin?: string
}

export interface NatsServerHandle extends AsyncDisposable {
  readonly name: string
  /** nats://127.0.0.1:PORT, the same after `restart()`. */
  readonly url: string
  readonly port: number
  /** ws://127.0.0.1:PORT, or undefined with `websocket: false`. */
  readonly wsUrl: string | undefined
  /** http://127.0.0.1:PORT of the monitoring endpoints, or undefined without `monitor: true`. */
  readonly monitorUrl: string | undefined
  readonly storeDir: string
  readonly dir: string
  readonly configFile: string
  /** Options to connect as `identity` (admin by default): servers plus its NKEY authentication. */
  connectOptions(identity?: Identity): ConnectionOptions
  /** The current (or last) process id. */
  readonly pid: number
  readonly running: boolean
  /** Everything the server logged, across restarts (bounded). */
  log(): string
  /** SIGTERM, then SIGKILL after `stopTimeoutMs`; resolves once it has exited. */
  stop(): Promise<void>
  /** SIGKILL (a crash); resolves once it has exited. */
  kill(): Promise<void>
  /** Starts again on the same ports with the same store dir (stops it first if running). */
  restart(): Promise<void>
  /** Stops it and removes its temp dir. */
  dispose(): Promise<void>
}

/** Everything `launchNatsServer` needs; the cluster harness adds its `cluster {}` block via `config`. */
export interface LaunchSpec {
  dir: string
  name: string
  websocket: boolean
  monitor: boolean
  config: string
  auth: boolean
  /** With `auth`: the JetStream API guard (default true). */
  apiGuard?: boolean
  readyTimeoutMs: number
  stopTimeoutMs: number
  bin: string
}

let counter = 0
let resolvedBin: Promise<string> | undefined

/** $NATS_SERVER_BIN (set by the global setup), else the first fitting binary, resolved once. */
export function natsServerBin(): Promise<string> {
  const fromEnv = process.env['NATS_SERVER_BIN']
  if (fromEnv !== undefined && fromEnv !== '') return Promise.resolve(fromEnv)
  resolvedBin ??= resolveNatsServer().then((found) => found.bin)
  return resolvedBin
}

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const bin = opts.bin ?? (await natsServerBin())
  const dir = await mkdtemp(join(tmpdir(), 'nats-test-'))
  try {
    return await launchNatsServer({
      dir,
      name: opts.name ?? `test-${process.pid}-${++counter}`,
      websocket: opts.websocket ?? true,
      monitor: opts.monitor ?? false,
      config: opts.config ?? '',
      auth: opts.auth ?? true,
      apiGuard: opts.apiGuard ?? true,
      readyTimeoutMs: opts.readyTimeoutMs ?? 10_000,
      stopTimeoutMs: opts.stopTimeoutMs ?? 5_000,
      bin,
    })
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

/** Starts a server in an existing `dir`, which the handle then owns (dispose removes it). */
export async function launchNatsServer(spec: LaunchSpec): Promise<NatsServerHandle> {
  const { dir, name, websocket, monitor, readyTimeoutMs, stopTimeoutMs, bin } = spec
  const storeDir = join(dir, 'js')
  const configFile = join(dir, 'nats-server.conf')
  const log = createLineBuffer(5_000)
  const start = async (ports: Ports): Promise<NatsProcess> => {
    await writeFile(
      configFile,
      renderConfig({
        ...{ ...ports, name, storeDir, websocket, monitor },
        ...{ auth: spec.auth, apiGuard: spec.apiGuard ?? true, extra: spec.config },
      }),
    )
    return spawnNatsServer({ bin, configFile, cwd: dir, log, websocket, monitor, timeoutMs: readyTimeoutMs })
  }

  let proc = await start({ port: -1, wsPort: -1, monitorPort: -1 })
  // Restarts reuse the ports picked the first time.
  const { port, wsPort = -1, monitorPort = -1 } = proc
  let disposed: Promise<void> | undefined
  let restarting: Promise<unknown> | undefined
  const stop = async (): Promise<void> => {
    await stopNatsProcess(proc, 'SIGTERM', stopTimeoutMs)
  }
  // A restart under way finishes first, so the process it starts is the one stopped.
  const dispose = (): Promise<void> =>
    (disposed ??= Promise.allSettled([restarting])
      .then(stop)
      .finally(() => rm(dir, { recursive: true, force: true })))

  return {
    name,
    url: `nats://127.0.0.1:${port}`,
    port,
    wsUrl: websocket ? `ws://127.0.0.1:${wsPort}` : undefined,
    monitorUrl: monitor ? `http://127.0.0.1:${monitorPort}` : undefined,
    storeDir,
    dir,
    configFile,
    connectOptions: (identity) => ({ servers: [`nats://127.0.0.1:${port}`], ...authAs(identity) }),
    get pid() {
      return proc.pid
    },
    get running() {
      return proc.running()
    },
    log: () => log.text(),
    stop,
    async kill() {
      await stopNatsProcess(proc, 'SIGKILL', 0)
    },
    async restart() {
      if (disposed) throw new Error(`nats-server ${name} was disposed`)
      const run = (async () => {
        await stop()
        log.push(`--- harness: restarting ${name} on port ${port} ---`)
        proc = await start({ port, wsPort, monitorPort })
      })()
      restarting = run
      await run.finally(() => (restarting = undefined))
      if (proc.port !== port) throw new Error(`restarted on port ${proc.port}, expected ${port}`)
    },
    dispose,
    [Symbol.asyncDispose]: dispose,
  }
}

interface Ports {
  port: number
  wsPort: number
  monitorPort: number
}

interface ConfigInput extends Ports {
  name: string
  storeDir: string
  websocket: boolean
  monitor: boolean
  auth: boolean
  apiGuard: boolean
  extra: string
}

function renderConfig(input: ConfigInput): string {
  const { name, port, wsPort, monitorPort, storeDir, websocket, monitor, auth, apiGuard, extra } = input
  const lines = [
    '# written by test/harness/nats-server.ts',
    `server_name: ${JSON.stringify(name)}`,
    `listen: "127.0.0.1:${port}"`,
    `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
  ]
  if (websocket) lines.push(`websocket { listen: "127.0.0.1:${wsPort}", no_tls: true }`)
  if (monitor) lines.push(`http: "127.0.0.1:${monitorPort}"`)
  if (auth) lines.push(renderAuthorization(natsPublicKeys(testSecrets()), { apiGuard }))
  if (extra !== '') lines.push(extra)
  return `${lines.join('\n')}\n`
}

/**
 * Replaces `from` with `to` in a running server's configuration and has it
 * reloaded (SIGHUP); resolves once its log shows `reloads` reloads in all.
 */
export async function reloadConfig(
  server: NatsServerHandle,
  from: string,
  to: string,
  reloads: number,
  timeoutMs = 10_000,
): Promise<void> {
  const config = await readFile(server.configFile, 'utf8')
  if (!config.includes(from))
    throw new Error(`the configuration does not hold ${JSON.stringify(from.slice(0, 60))}`)
  await writeFile(server.configFile, config.replaceAll(from, to))
  process.kill(server.pid, 'SIGHUP')
  await waitFor(
    () =>
      server
        .log()
        .split('\n')
        .filter((l) => /Reloaded server configuration/.test(l)).length >= reloads,
    { timeoutMs, message: 'nats-server reloaded its configuration' },
  )
}
