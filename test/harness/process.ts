// Worker processes for end-to-end tests (`bun run workers/order/main.ts`, a compiled
// binary, ...): spawned in their own process group so signals reach `bun run`'s
// children too, output captured line by line, every one tracked for cleanup.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import type { Readable } from 'node:stream'
import { createLineBuffer, readLines } from './lines.ts'
import { statFieldsAfterName } from './proc-stat.ts'
import { waitFor, WaitForTimeoutError } from './wait-for.ts'

export type LinePredicate = RegExp | ((line: string) => boolean)

export interface SpawnServiceOptions {
  cmd: string
  args?: readonly string[]
  /** Added to (and overriding) the test process's environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>
  cwd?: string
  /** Resolve only once a line matches (stdout or stderr). */
  readyLine?: LinePredicate
  /** Deadline for the ready line (default 15 s). */
  readyTimeoutMs?: number
  /** Lines kept in memory (default 5000). */
  maxLines?: number
}

export interface ServiceExit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface ServiceHandle extends AsyncDisposable {
  readonly pid: number
  readonly exited: Promise<ServiceExit>
  readonly running: boolean
  /** Captured stdout and stderr lines, interleaved, oldest dropped past the bound. */
  lines(): string[]
  /** Lines seen so far: pass it as `after` to wait only for later lines. */
  lineCount(): number
  /** The first line (at or after cursor `after`, default 0) that matches; rejects on exit or timeout. */
  waitForLine(pred: LinePredicate, timeoutMs?: number, after?: number): Promise<string>
  /** Sends a signal to the whole process group. */
  signal(sig: NodeJS.Signals): void
  /** SIGKILL to the group; resolves on exit. */
  kill(): Promise<ServiceExit>
  /** SIGTERM to the group, SIGKILL after `timeoutMs` (default 5 s); resolves on exit. */
  stop(timeoutMs?: number): Promise<ServiceExit>
}

export class ServiceStartError extends Error {
  override readonly name = 'ServiceStartError'
}

const services = new Set<ServiceHandle>()
let exitHookInstalled = false

export async function spawnService(opts: SpawnServiceOptions): Promise<ServiceHandle> {
  const { cmd, args = [], readyTimeoutMs = 15_000, maxLines = 5_000 } = opts
  const env = { ...process.env, ...opts.env }
  const child = spawn(cmd, args, { cwd: opts.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  const out = createLineBuffer(maxLines)
  // Set from event callbacks, hence an object (control-flow narrowing can't see them).
  const state: { exit?: ServiceExit; spawnError?: Error } = {}
  const exited = new Promise<ServiceExit>((done) => {
    child.once('error', (err) => {
      state.spawnError = err
      done((state.exit ??= { code: null, signal: null }))
    })
    child.once('exit', (code, signal) => done((state.exit ??= { code, signal })))
  })
  readLines(child.stdout, (line) => out.push(line))
  readLines(child.stderr, (line) => out.push(line))
  const pid = child.pid ?? -1

  const signal = (sig: NodeJS.Signals): void => {
    if (pid <= 0) return
    try {
      process.kill(-pid, sig)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err
    }
  }
  const stop = async (timeoutMs = 5_000): Promise<ServiceExit> => {
    services.delete(handle)
    if (state.exit === undefined) {
      signal('SIGTERM')
      let timer: ReturnType<typeof setTimeout> | undefined
      const graceOver = new Promise<void>((done) => {
        timer = setTimeout(() => done(), timeoutMs)
      })
      await Promise.race([exited, graceOver]).finally(() => clearTimeout(timer))
    }
    // Whatever the leader left behind in its group goes too.
    signal('SIGKILL')
    return exited
  }
  const describeCmd = `${cmd} ${args.join(' ')}`.trim()
  // Lines still in the pipes arrive just after 'exit' (unless grandchildren hold the pipes open).
  const outputDone = exited.then(async (exit) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const closed = (stream: Readable | null): Promise<unknown> =>
      stream === null || stream.closed ? Promise.resolve() : once(stream, 'close').catch(() => undefined)
    const grace = new Promise<void>((done) => {
      timer = setTimeout(() => done(), 500)
    })
    await Promise.race([Promise.all([closed(child.stdout), closed(child.stderr)]), grace])
    clearTimeout(timer)
    return exit
  })
  const waitForLine = (pred: LinePredicate, timeoutMs = 10_000, after = 0): Promise<string> =>
    new Promise((done, fail) => {
      const test = typeof pred === 'function' ? pred : (line: string) => pred.test(line)
      const seen = out.since(after).find(test)
      if (seen !== undefined) return done(seen)
      const what = `a line matching ${String(pred)} from ${describeCmd}`
      let settled = false
      const finish = (settle: () => void): void => {
        if (settled) return
        settled = true
        off()
        clearTimeout(timer)
        settle()
      }
      const off = out.onLine((line) => {
        if (test(line)) finish(() => done(line))
      })
      const timer = setTimeout(() => {
        finish(() => fail(new WaitForTimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`)))
      }, timeoutMs)
      void outputDone.then((exit) => {
        finish(() =>
          fail(new Error(`exited (code ${exit.code}, signal ${exit.signal}) before printing ${what}`)),
        )
      })
    })

  const handle: ServiceHandle = {
    pid,
    exited,
    get running() {
      return state.exit === undefined
    },
    lines: () => out.lines(),
    lineCount: () => out.total(),
    waitForLine,
    signal,
    kill: () => {
      signal('SIGKILL')
      return exited
    },
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop()
    },
  }
  track(handle)
  if (opts.readyLine !== undefined) {
    try {
      await waitForLine(opts.readyLine, readyTimeoutMs)
    } catch (err) {
      await stop(0)
      const reason = state.spawnError?.message ?? (err instanceof Error ? err.message : String(err))
      const message = `${describeCmd} did not get ready: ${reason}\n--- output ---\n${out.text()}`
      throw new ServiceStartError(message, { cause: state.spawnError ?? err })
    }
  }
  return handle
}

/** Stops every service not stopped yet (for afterAll); a second line of defence after `await using`. */
export async function stopAllServices(timeoutMs = 2_000): Promise<void> {
  const all = [...services]
  services.clear()
  await Promise.all(all.map((s) => s.stop(timeoutMs)))
}

function track(handle: ServiceHandle): void {
  services.add(handle)
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.once('exit', () => {
      for (const s of services) s.signal('SIGKILL')
    })
  }
}

/**
 * SIGSTOP, then waits until every thread of the process is stopped (Linux's
 * `/proc`; elsewhere it only sends the signal). `kill()` returns once the
 * signal is queued, not once the group stop is complete.
 */
export async function stopAndWait(pid: number, timeoutMs = 2_000): Promise<void> {
  process.kill(pid, 'SIGSTOP')
  if (!existsSync(`/proc/${pid}/task`)) return
  const stateOf = (tid: string): string => {
    try {
      return statFieldsAfterName(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'))[0] ?? ''
    } catch {
      return 'T' // the thread ended
    }
  }
  await waitFor(() => readdirSync(`/proc/${pid}/task`).every((tid) => ['T', 't'].includes(stateOf(tid))), {
    timeoutMs,
    intervalMs: 1,
    message: `every thread of process ${pid} stopped`,
  })
}
