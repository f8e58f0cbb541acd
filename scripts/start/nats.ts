// The embedded nats-server of `npm start`: its configuration (one function), the
// binary (found or fetched), and the process, in a process group of its own so
// that a Ctrl-C reaches it only when npm start stops it, after the workers.
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { NatsServerNotFoundError, projectRoot, resolveNatsServer } from '../nats-server-bin.ts'

export interface NatsServerSettings {
  storeDir: string
  host: string
  /** -1: any free port. */
  port: number
  /** The WebSocket listener (the edge intake connects there); -1: any free port. */
  wsPort: number
  /** The monitoring listener (`/connz`, `/varz`, `/jsz`), always on 127.0.0.1; -1: any free port. */
  monitorPort: number
  /** The `authorization {}` block (generated from the access table). */
  authorization: string
}

/** The whole nats-server.conf npm start runs with. */
export function natsServerConfig({
  storeDir,
  host,
  port,
  wsPort,
  monitorPort,
  authorization,
}: NatsServerSettings): string {
  return [
    'server_name: "local"',
    `listen: ${JSON.stringify(`${host}:${port}`)}`,
    // Same durability setting as scripts/nats/nats-server.conf (see README, "Durability").
    `jetstream {\n  store_dir: ${JSON.stringify(storeDir)}\n  sync_interval: 1s\n}`,
    `websocket {\n  listen: ${JSON.stringify(`${host}:${wsPort}`)}\n  no_tls: true\n}`,
    // Read-only server state, unauthenticated: never beyond loopback.
    `http: ${JSON.stringify(`127.0.0.1:${monitorPort}`)}`,
    authorization,
    '',
  ].join('\n')
}

/** The nats-server binary; when none is found, scripts/fetch-nats-server.sh fetches one. */
export async function resolveServerBin(log: (line: string) => void): Promise<string> {
  try {
    return (await resolveNatsServer()).bin
  } catch (error) {
    if (!(error instanceof NatsServerNotFoundError)) throw error
    log('no suitable nats-server found; trying scripts/fetch-nats-server.sh (apt)')
    const fetched = spawn('bash', [join(projectRoot, 'scripts', 'fetch-nats-server.sh')], {
      stdio: 'inherit',
    })
    const code = await new Promise<number | null>((done) => fetched.on('exit', done))
    if (code !== 0) throw new Error(error.message, { cause: error })
    return (await resolveNatsServer()).bin
  }
}

export interface StartedNats {
  child: ChildProcess
  /** Resolves once the server is ready, with the URLs it listens on (10 s deadline). */
  ready: Promise<{ url: string; wsUrl: string; monitorUrl: string }>
}

const TAIL_LINES = 40

/**
 * Starts nats-server with `configFile`. Warnings and errors it logs once
 * ready are passed on to `log`.
 */
export function startNatsServer(bin: string, configFile: string, log: (line: string) => void): StartedNats {
  const child = spawn(bin, ['-c', configFile], { stdio: ['ignore', 'ignore', 'pipe'], detached: true })
  const tail: string[] = []
  let partial = ''
  let ready = false
  let url = ''
  let wsUrl = ''
  let monitorUrl = ''
  const readiness = new Promise<{ url: string; wsUrl: string; monitorUrl: string }>((resolve, reject) => {
    const fail = (why: string): void => {
      clearTimeout(timer)
      if (child.exitCode === null) child.kill('SIGKILL')
      reject(new Error(`nats-server ${why}:\n${tail.join('\n')}`))
    }
    const timer = setTimeout(() => fail('not ready within 10 s'), 10_000)
    child.once('error', (error) => fail(`did not start (${error.message})`))
    child.once('exit', (code, signal) => {
      if (!ready) fail(`exited with ${signal ?? code} before it was ready`)
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n')
      partial = lines.pop() ?? ''
      for (const line of lines) {
        tail.push(line)
        if (tail.length > TAIL_LINES) tail.shift()
        if (ready) {
          if (/\[(WRN|ERR|FTL)\]/.test(line)) log(`nats-server: ${line}`)
          continue
        }
        const client = /Listening for client connections on [\d.]+:(\d+)/.exec(line)?.[1]
        if (client !== undefined) url = `nats://127.0.0.1:${client}`
        wsUrl ||= /Listening for websocket clients on (ws:\/\/[\d.]+:\d+)/.exec(line)?.[1] ?? ''
        const monitor = /Starting http monitor on ([\d.]+:\d+)/.exec(line)?.[1]
        if (monitor !== undefined) monitorUrl = `http://${monitor}`
        if (url !== '' && line.includes('Server is ready')) {
          ready = true
          clearTimeout(timer)
          resolve({ url, wsUrl, monitorUrl })
        }
      }
    })
  })
  return { child, ready: readiness }
}
