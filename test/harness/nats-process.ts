// One nats-server process: spawn it with a config file, learn its ports from
// its log, wait for "Server is ready" with a deadline, and stop it.
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readLines } from './lines.ts'
import type { LineBuffer } from './lines.ts'

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
  error?: Error
}

export interface NatsProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly port: number
  readonly wsPort: number | undefined
  readonly monitorPort: number | undefined
  readonly exited: Promise<ExitInfo>
  running(): boolean
}

export interface SpawnNatsOptions {
  bin: string
  configFile: string
  cwd: string
  /** Where stdout and stderr lines go (kept across restarts by the caller). */
  log: LineBuffer
  /** Also wait for the WebSocket listener line. */
  websocket: boolean
  /** Also wait for the HTTP monitoring listener line. */
  monitor: boolean
  timeoutMs: number
}

export class NatsServerStartError extends Error {
  override readonly name = 'NatsServerStartError'
  /** The server's output for this start attempt. */
  readonly log: string

  constructor(reason: string, log: string, options?: ErrorOptions) {
    super(`nats-server failed to start: ${reason}\n--- nats-server log ---\n${log}`, options)
    this.log = log
  }
}

const CLIENT_LINE = /Listening for client connections on \S+:(\d+)/
const WS_LINE = /Listening for websocket clients on wss?:\/\/\S+:(\d+)/
const MONITOR_LINE = /Starting http monitor on \S+:(\d+)/
const READY_LINE = /Server is ready/

// Servers still running when the test process exits are killed with it.
const live = new Set<ChildProcess>()
let exitHookInstalled = false

function trackUntilExit(child: ChildProcess, exited: Promise<ExitInfo>): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const c of live) c.kill('SIGKILL')
    })
  }
  live.add(child)
  void exited.then(() => live.delete(child))
}

export async function spawnNatsServer(opts: SpawnNatsOptions): Promise<NatsProcess> {
  const { bin, configFile, cwd, log, websocket, monitor, timeoutMs } = opts
  const from = log.total()
  const child = spawn(bin, ['-c', configFile], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let exitInfo: ExitInfo | undefined
  const exited = new Promise<ExitInfo>((done) => {
    child.once('error', (error) => done((exitInfo ??= { code: null, signal: null, error })))
    // 'close' rather than 'exit': by then every line of output has been read.
    child.once('close', (code, signal) => done((exitInfo ??= { code, signal })))
  })
  trackUntilExit(child, exited)
  readLines(child.stdout, (line) => log.push(line))
  readLines(child.stderr, (line) => log.push(line))

  let port: number | undefined
  let wsPort: number | undefined
  let monitorPort: number | undefined
  let unsubscribe = (): void => undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    await new Promise<void>((done, fail) => {
      let ready = false
      const check = (): void => {
        const listening = (!websocket || wsPort !== undefined) && (!monitor || monitorPort !== undefined)
        if (ready && port !== undefined && listening) done()
      }
      unsubscribe = log.onLine((line) => {
        port ??= matchPort(CLIENT_LINE, line)
        wsPort ??= matchPort(WS_LINE, line)
        monitorPort ??= matchPort(MONITOR_LINE, line)
        ready ||= READY_LINE.test(line)
        check()
      })
      timer = setTimeout(() => fail(new Error(`not ready within ${timeoutMs} ms`)), timeoutMs)
      void exited.then((info) => fail(new Error(`exited before it was ready (${describeExit(info)})`)))
    })
  } catch (err) {
    child.kill('SIGKILL')
    await exited
    const reason = err instanceof Error ? err.message : String(err)
    throw new NatsServerStartError(reason, log.since(from).join('\n'), { cause: exitInfo?.error ?? err })
  } finally {
    unsubscribe()
    clearTimeout(timer)
  }
  if (port === undefined || child.pid === undefined) throw new Error('unreachable: ready without a port')
  return {
    child,
    pid: child.pid,
    port,
    wsPort,
    monitorPort,
    exited,
    running: () => exitInfo === undefined,
  }
}

/** Sends `signal` and waits for exit; after `graceMs` escalates to SIGKILL. */
export async function stopNatsProcess(
  proc: NatsProcess,
  signal: NodeJS.Signals,
  graceMs: number,
): Promise<ExitInfo> {
  if (!proc.running()) return proc.exited
  proc.child.kill(signal)
  if (signal === 'SIGKILL') return proc.exited
  let timer: ReturnType<typeof setTimeout> | undefined
  const graceOver = new Promise<undefined>((done) => {
    timer = setTimeout(() => done(undefined), graceMs)
  })
  const info = await Promise.race([proc.exited, graceOver]).finally(() => clearTimeout(timer))
  if (info !== undefined) return info
  proc.child.kill('SIGKILL')
  return proc.exited
}

export function describeExit(info: ExitInfo): string {
  if (info.error) return `spawn error: ${info.error.message}`
  return info.signal === null ? `exit code ${info.code}` : `signal ${info.signal}`
}

function matchPort(re: RegExp, line: string): number | undefined {
  const m = re.exec(line)
  return m?.[1] === undefined ? undefined : Number(m[1])
}
