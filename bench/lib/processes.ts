// Processes the bench starts: each in its own process group, output to a log
// file (a pipe read by the bench would cost CPU the services are measured on),
// every one tracked and stopped by `stopAllProcesses` or at exit.
import { spawn } from 'node:child_process'
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { statFieldsAfterName } from '../../test/harness/proc-stat.ts'

export interface BenchProcess {
  readonly name: string
  readonly pid: number
  readonly logFile: string
  readonly exited: Promise<number | null>
  running(): boolean
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves on exit. */
  stop(graceMs?: number): Promise<void>
}

export interface SpawnOptions {
  name: string
  cmd: string
  args?: readonly string[]
  env?: Record<string, string>
  /** Variables of this process's environment the child does not get. */
  unsetEnv?: readonly string[]
  cwd: string
  logFile: string
}

const live = new Set<BenchProcess>()
let exitHook = false

/** `kill(target, signal)`, where a process or group already gone is no error. */
function signalIfThere(target: number, signal: NodeJS.Signals): void {
  try {
    process.kill(target, signal)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  signalIfThere(-pid, signal)
}

export function spawnLogged({
  name,
  cmd,
  args = [],
  env = {},
  unsetEnv = [],
  cwd,
  logFile,
}: SpawnOptions): BenchProcess {
  const fd = openSync(logFile, 'a')
  const inherited = { ...process.env }
  for (const key of unsetEnv) delete inherited[key]
  const child = spawn(cmd, args, {
    cwd,
    env: { ...inherited, ...env },
    detached: true,
    stdio: ['ignore', fd, fd],
  })
  closeSync(fd)
  let done = false
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(null))
    child.once('exit', (code) => resolve(code))
  }).finally(() => {
    done = true
  })
  const pid = child.pid ?? -1
  const proc: BenchProcess = {
    name,
    pid,
    logFile,
    exited,
    running: () => !done,
    async stop(graceMs = 5_000) {
      live.delete(proc)
      if (!done && pid > 0) {
        signalGroup(pid, 'SIGTERM')
        let timer: ReturnType<typeof setTimeout> | undefined
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs)
        })
        await Promise.race([exited, grace]).finally(() => clearTimeout(timer))
      }
      if (pid > 0) signalGroup(pid, 'SIGKILL')
      await exited
    },
  }
  live.add(proc)
  if (!exitHook) {
    exitHook = true
    process.once('exit', () => {
      for (const p of live) if (p.pid > 0) signalGroup(p.pid, 'SIGKILL')
    })
  }
  return proc
}

/** Every process descended from `pid` now (from /proc's parent ids), nearest first. */
export function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue // gone meanwhile
    }
    const ppid = Number(statFieldsAfterName(stat)[1])
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
  }
  const found: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    for (const child of children.get(queue.shift() as number) ?? []) {
      found.push(child)
      queue.push(child)
    }
  }
  return found
}

/**
 * Stops a process that starts others in process groups of their own (another
 * tree's bench: its workers are detached and it only kills them in an `exit`
 * hook, which a signal does not run): it, then whatever it had started.
 */
export async function stopWithDescendants(proc: BenchProcess): Promise<void> {
  const descendants = descendantsOf(proc.pid)
  await proc.stop()
  for (const pid of descendants) {
    signalGroup(pid, 'SIGKILL')
    signalIfThere(pid, 'SIGKILL')
  }
}

export async function stopAllProcesses(): Promise<void> {
  const all = [...live]
  await Promise.allSettled(all.map((p) => p.stop(3_000)))
}

export function tailOf(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/** Resident memory now and its peak (VmHWM), in MiB, from /proc/<pid>/status. */
export function readRss(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kib = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN)
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 }
}

/** CPU time (user + system) a process has used so far, in ms, from /proc/<pid>/stat. */
export function cpuMs(pid: number): number {
  const fields = statFieldsAfterName(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  const ticks = Number(fields[11]) + Number(fields[12])
  return (ticks * 1000) / 100 // USER_HZ is 100 on Linux
}

/** Polls `url` until it answers 200 or the deadline passes; resolves with ms since `since`. */
export async function waitHttpOk(
  url: string,
  {
    timeoutMs,
    intervalMs = 5,
    since = performance.now(),
  }: { timeoutMs: number; intervalMs?: number; since?: number },
): Promise<number> {
  const deadline = since + timeoutMs
  let last = 'no answer'
  while (performance.now() < deadline) {
    try {
      const res = await fetch(url, {
        signal: AbortSignal.timeout(Math.max(50, deadline - performance.now())),
      })
      await res.arrayBuffer()
      if (res.status === 200) return performance.now() - since
      last = `HTTP ${res.status}`
    } catch (error) {
      last = error instanceof Error ? error.message : String(error)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
  throw new Error(`${url} not 200 within ${timeoutMs} ms (last: ${last})`)
}

/**
 * `nice` alone does not lower a process's share of the cores against the
 * other services when the kernel groups tasks by session (autogroup,
 * `/proc/sys/kernel/sched_autogroup_enabled`): each bench process is started
 * in a session of its own, and a task's nice then weighs only against the
 * tasks of its own session. So the session's nice is set too. Raising it
 * needs no privilege. Answers whether it was set (false: no autogroup here).
 */
export function niceSession(pid: number, nice: number): boolean {
  let enabled = '0'
  try {
    enabled = readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim()
  } catch {
    return false // no autogroup in this kernel: the process's own nice is what counts
  }
  if (enabled !== '1') return false
  writeFileSync(`/proc/${pid}/autogroup`, String(nice))
  return true
}
