// npm start's workers as compose's `restart: unless-stopped`: a worker that
// exits is started again after a delay that doubles (0.5 s up to 30 s) and
// returns to 0.5 s once a run lasted 30 s. Each worker has a process group of
// its own, so a Ctrl-C reaches only npm start, which stops them in order.
import { spawn, type ChildProcess } from 'node:child_process'
import type { RuntimeCommand } from '../runtime-commands.ts'

export interface RestartPolicy {
  initialMs: number
  maxMs: number
  /** A run at least this long counts as healthy: the next delay starts over. */
  healthyAfterMs: number
}

export const RESTART_POLICY: RestartPolicy = { initialMs: 500, maxMs: 30_000, healthyAfterMs: 30_000 }

/** The delay before the next start, given the last delay (undefined: none yet) and how long the run lasted. */
export function nextRestartDelay(
  lastDelayMs: number | undefined,
  ranForMs: number,
  { initialMs, maxMs, healthyAfterMs }: RestartPolicy = RESTART_POLICY,
): number {
  if (lastDelayMs === undefined || ranForMs >= healthyAfterMs) return initialMs
  return Math.min(lastDelayMs * 2, maxMs)
}

export interface WorkerSpec {
  name: string
  command: RuntimeCommand
  env: Record<string, string | undefined>
  cwd: string
  /**
   * Stopped only once the others have exited (the gateway sandbox: the
   * payment worker's charges in flight finish against it).
   */
  stopLast?: boolean
}

interface Supervised {
  spec: WorkerSpec
  child: ChildProcess
  startedAt: number
  lastDelayMs: number | undefined
  restarts: number
  timer: ReturnType<typeof setTimeout> | undefined
  exited: Promise<void>
}

export interface SupervisorOptions {
  log: (line: string) => void
  /** Called whenever a worker's pid changes. */
  onPids?: (pids: Record<string, number>) => void
  /** A worker exited while `restart` is off (during start-up): npm start gives up. */
  onFatal: (name: string, how: string) => void
  policy?: RestartPolicy
}

const how = (code: number | null, signal: NodeJS.Signals | null): string =>
  signal !== null ? `signal ${signal}` : `code ${code}`

/** Signals the process group of `child` (its own, see `detached`); a gone group is no error. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  // An exited child's id may belong to someone else by now.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  try {
    process.kill(-child.pid, signal)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

/** Resolves once the child has exited, or failed to start at all (then Node emits `error` and never `exit`). */
export function exitOf(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((done) => {
        child.once('exit', () => done())
        child.once('error', () => {
          if (child.pid === undefined) done()
        })
      })
}

export class Supervisor {
  readonly #workers = new Map<string, Supervised>()
  readonly #opts: SupervisorOptions
  #stopping = false
  /** Off during start-up: an exit then is a failure to start, not a crash to restart. */
  restart = false

  constructor(opts: SupervisorOptions) {
    this.#opts = opts
  }

  start(spec: WorkerSpec): void {
    if (this.#stopping) return
    this.#spawn(spec, undefined, 0)
  }

  pids(): Record<string, number> {
    const pids: Record<string, number> = {}
    for (const [name, w] of this.#workers) if (w.child.pid !== undefined) pids[name] = w.child.pid
    return pids
  }

  #spawn(spec: WorkerSpec, lastDelayMs: number | undefined, restarts: number): void {
    const child = spawn(spec.command.cmd, spec.command.args, {
      cwd: spec.cwd,
      env: spec.env,
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
    })
    const worker: Supervised = {
      spec,
      child,
      startedAt: Date.now(),
      lastDelayMs,
      restarts,
      timer: undefined,
      exited: exitOf(child),
    }
    this.#workers.set(spec.name, worker)
    child.once('error', (error) => {
      this.#opts.log(`${spec.name}: ${error.message}`)
      // A spawn that failed (no such command) never exits: count it as an exit.
      if (child.pid === undefined) this.#exited(worker, `could not start (${error.message})`)
    })
    child.once('exit', (code, signal) => this.#exited(worker, how(code, signal)))
    if (restarts > 0) this.#opts.log(`${spec.name} restarted (pid ${child.pid}, restart ${restarts})`)
    this.#opts.onPids?.(this.pids())
  }

  #exited(worker: Supervised, how: string): void {
    if (this.#stopping) return
    const { name } = worker.spec
    if (!this.restart) {
      this.#opts.onFatal(name, how)
      return
    }
    const ranForMs = Date.now() - worker.startedAt
    const delay = nextRestartDelay(worker.lastDelayMs, ranForMs, this.#opts.policy)
    this.#opts.log(
      `${name} exited (${how}) after ${(ranForMs / 1000).toFixed(1)} s; restarting in ${(delay / 1000).toFixed(1)} s`,
    )
    worker.timer = setTimeout(() => {
      if (!this.#stopping) this.#spawn(worker.spec, delay, worker.restarts + 1)
    }, delay)
  }

  /**
   * SIGTERM to every worker (those marked `stopLast` once the others have
   * exited), then waits for them until `deadlineMs`; who is left gets
   * SIGKILL. No restarts from here on.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.#stopping = true
    const workers = [...this.#workers.values()]
    for (const w of workers) clearTimeout(w.timer)
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<'late'>((done) => {
      timer = setTimeout(() => done('late'), deadlineMs)
    })
    let timedOut = false
    for (const group of [
      workers.filter((w) => w.spec.stopLast !== true),
      workers.filter((w) => w.spec.stopLast === true),
    ]) {
      for (const w of group) signalGroup(w.child, 'SIGTERM')
      timedOut = (await Promise.race([Promise.all(group.map((w) => w.exited)), late])) === 'late'
      if (timedOut) break
    }
    clearTimeout(timer)
    if (timedOut) {
      const left = workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null)
      this.#opts.log(
        `still running after ${deadlineMs / 1000} s, killed: ${left.map((w) => w.spec.name).join(', ')}`,
      )
      for (const w of left) signalGroup(w.child, 'SIGKILL')
      await Promise.all(left.map((w) => w.exited))
    }
    // A worker's own children (if any) leave with it.
    for (const w of workers) signalGroup(w.child, 'SIGKILL')
  }

  /** SIGKILL to every worker now (the second Ctrl-C); resolves when they are gone. */
  kill(): Promise<void> {
    this.#stopping = true
    const workers = [...this.#workers.values()]
    for (const w of workers) {
      clearTimeout(w.timer)
      signalGroup(w.child, 'SIGKILL')
    }
    return Promise.all(workers.map((w) => w.exited)).then(() => undefined)
  }
}
