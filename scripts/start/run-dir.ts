// The local stack's state folder: `.local/run` (or $ORDER_SAGA_STATE_DIR). npm start
// keeps nats-server's config and JetStream store there, writes `env` (shell
// exports, mode 0600: connection details now, credentials later) and, while it
// runs, `stack.json` (URLs and process ids), which the operator commands read.
import {
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import * as v from 'valibot'
import { projectRoot } from '../nats-server-bin.ts'

type Env = Readonly<Record<string, string | undefined>>

export const STATE_DIR_VAR = 'ORDER_SAGA_STATE_DIR'

/** `$ORDER_SAGA_STATE_DIR`, else `<project>/.local/run`. */
export function stateDir(env: Env, root: string = projectRoot): string {
  const dir = env[STATE_DIR_VAR]
  return dir === undefined || dir === '' ? join(root, '.local', 'run') : resolve(dir)
}

export const envFilePath = (dir: string): string => join(dir, 'env')
export const stackFilePath = (dir: string): string => join(dir, 'stack.json')

/** Files that mark a folder as one npm start made (`wipeStateDir` removes no other folder). */
const MARKERS = ['nats-server.conf', 'env']

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
export const quote = (value: string): string => `'${value.replaceAll("'", `'\\''`)}'`

const NPM_START_HEADER = [
  '# Written by npm start for the stack it runs: load it with `. <this file>` (`. .local/run/env` by default).',
  '# Operator commands (npm run dlq, npm run provision) read it while the stack runs.',
]

/** `export NAME='value'` lines, one per entry, for `source`, under `header` comments. Names must be shell variable names. */
export function toEnvFile(
  entries: Readonly<Record<string, string>>,
  header: readonly string[] = NPM_START_HEADER,
): string {
  const bad = Object.keys(entries).filter((name) => !NAME.test(name))
  if (bad.length > 0) throw new Error(`not shell variable names: ${bad.join(', ')}`)
  return [
    ...header,
    ...Object.entries(entries).map(([name, value]) => `export ${name}=${quote(value)}`),
    '',
  ].join('\n')
}

/** The entries of a file {@link toEnvFile} wrote (values may span lines). */
export function fromEnvFile(text: string): Record<string, string> {
  const entries: Record<string, string> = {}
  for (const [, name, quoted] of text.matchAll(/^export ([A-Za-z_][A-Za-z0-9_]*)='((?:[^']|'\\'')*)'$/gm))
    if (name !== undefined && quoted !== undefined) entries[name] = quoted.replaceAll(`'\\''`, "'")
  return entries
}

/** Writes `file` readable by its owner only, all at once (a reader never sees half a file). */
export function writePrivateFile(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, text, { mode: 0o600 })
  chmodSync(tmp, 0o600)
  renameSync(tmp, file)
}

/** Writes `<dir>/env` from name -> value entries (mode 0600); returns its path. */
export function writeEnvFile(dir: string, entries: Readonly<Record<string, string>>): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = envFilePath(dir)
  writePrivateFile(file, toEnvFile(entries))
  return file
}

export function readEnvFile(dir: string): Record<string, string> {
  const file = envFilePath(dir)
  return existsSync(file) ? fromEnvFile(readFileSync(file, 'utf8')) : {}
}

const pid = v.pipe(v.number(), v.integer(), v.minValue(1))
const StackSchema = v.object({
  /** scripts/start.ts */
  pid,
  startedAt: v.string(),
  runtime: v.string(),
  natsUrl: v.string(),
  /** nats-server's WebSocket listener; null when NATS_URL named an outside server. */
  wsUrl: v.nullable(v.string()),
  natsServerPid: v.nullable(pid),
  http: v.record(v.string(), v.string()),
  workers: v.record(v.string(), pid),
  /** The order service's settings the edge intake shares (ORDER_CREATED_VERSIONS, ...); absent before this release. */
  intake: v.optional(v.record(v.string(), v.string())),
})
export type StackInfo = v.InferOutput<typeof StackSchema>

export function writeStackFile(dir: string, stack: StackInfo): void {
  writePrivateFile(stackFilePath(dir), `${JSON.stringify(stack, null, 2)}\n`)
}

export function removeStackFile(dir: string): void {
  rmSync(stackFilePath(dir), { force: true })
}

/** stack.json as written, or undefined when missing or unreadable. */
export function readStackFile(dir: string): StackInfo | undefined {
  try {
    const parsed = v.safeParse(StackSchema, JSON.parse(readFileSync(stackFilePath(dir), 'utf8')))
    return parsed.success ? parsed.output : undefined
  } catch {
    return undefined
  }
}

/**
 * Whether `pid` is a live process whose command line contains `marker` (a
 * recycled pid after a reboot is not mistaken for the stack). Without /proc
 * the marker cannot be checked: a live pid then counts as the stack's, unless
 * `strict`.
 */
export function processAlive(pid: number, marker: string, strict = false): boolean {
  try {
    process.kill(pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)
  } catch {
    return !strict
  }
}

export const START_MARKER = 'start.ts'

/** The stack recorded in `dir` if its `npm start` is still running. */
export function readRunningStack(dir: string): StackInfo | undefined {
  const stack = readStackFile(dir)
  return stack !== undefined && processAlive(stack.pid, START_MARKER) ? stack : undefined
}

/** Processes of a recorded stack still alive (its npm start included), e.g. left by a `kill -9` of npm start. */
export function liveProcesses(stack: StackInfo, strict = false): { name: string; pid: number }[] {
  const all = [
    { name: 'npm start', pid: stack.pid, marker: START_MARKER },
    ...(stack.natsServerPid === null
      ? []
      : [{ name: 'nats-server', pid: stack.natsServerPid, marker: 'nats-server' }]),
    ...Object.entries(stack.workers).map(([name, pid]) => ({ name, pid, marker: `workers/${name}/` })),
  ]
  return all.filter((p) => processAlive(p.pid, p.marker, strict)).map(({ name, pid }) => ({ name, pid }))
}

/**
 * What stops a start when an earlier npm start of `dir` was killed (kill -9)
 * and left its nats-server and workers running: they hold its ports.
 * Undefined when there are none, or when that npm start still runs.
 */
export function leftoverProblem(dir: string): string | undefined {
  const stack = readStackFile(dir)
  if (stack === undefined || processAlive(stack.pid, START_MARKER)) return undefined
  // Only processes whose command line says they are this stack's: a pid
  // reused since (after a reboot) must not be named to kill.
  const alive = liveProcesses(stack, true)
  if (alive.length === 0) return undefined
  return (
    `an earlier npm start from ${dir} (pid ${stack.pid}) is gone but left ` +
    `${alive.map((p) => `${p.name} pid ${p.pid}`).join(', ')} running: stop them (kill those pids)`
  )
}

export class StackRunningError extends Error {
  override readonly name = 'StackRunningError'
}

/** The lock an npm start holds on its state folder, beside it (`--fresh` and reset remove the folder). */
export const stateLockPath = (dir: string): string => `${resolve(dir)}.lock`

/** The pid of the npm start holding the state folder's lock, if that process is alive and is one. */
export function stateLockHolder(dir: string): number | undefined {
  let pid: number
  try {
    pid = Number(readFileSync(stateLockPath(dir), 'utf8').trim())
  } catch {
    return undefined
  }
  // A pid reused since by another program is not a start to name.
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid, START_MARKER)
    ? pid
    : undefined
}

/**
 * Takes the state folder for this npm start, before anything reads or
 * removes it: two starts at once would otherwise both pass the running-stack
 * check (stack.json is written later), and the second's `--fresh` would
 * remove what the first had made, keys included. The lock file appears whole
 * (a hard link to a file already written), so it is never read half made. A
 * lock whose npm start is gone (kill -9) is taken over. Released at exit.
 */
export function lockStateDir(dir: string): void {
  const file = stateLockPath(dir)
  mkdirSync(dirname(file), { recursive: true })
  const mine = `${file}.${process.pid}`
  writeFileSync(mine, `${process.pid}\n`, { mode: 0o600 })
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(mine, file)
        process.on('exit', () => {
          try {
            if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true })
          } catch {
            // already gone
          }
        })
        return
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        const holder = stateLockHolder(dir)
        if (holder !== undefined)
          throw new StackRunningError(
            `npm start is already running from ${dir} (pid ${holder}): stop it with Ctrl-C in its terminal, or use another ORDER_SAGA_STATE_DIR`,
          )
        rmSync(file, { force: true }) // its npm start is gone
      }
    }
    throw new StackRunningError(`another npm start is taking ${dir} at the same moment: try again`)
  } finally {
    rmSync(mine, { force: true })
  }
}

/**
 * Removes the state folder (streams, KV, env file). Refuses while a stack
 * recorded there still has processes, and when the folder is neither the
 * default nor one npm start wrote (a mistyped ORDER_SAGA_STATE_DIR must not cost files).
 */
export function wipeStateDir(dir: string, root: string = projectRoot): 'wiped' | 'absent' {
  const stack = existsSync(dir) ? readStackFile(dir) : undefined
  const alive = stack === undefined ? [] : liveProcesses(stack)
  if (alive.length > 0) {
    // npm start restarts a worker that is killed: only stopping npm start itself stops the stack.
    const start = alive.find((p) => p.name === 'npm start')
    throw new StackRunningError(
      `a stack is running from ${dir} (${alive.map((p) => `${p.name} pid ${p.pid}`).join(', ')}): ` +
        (start === undefined
          ? 'stop it first (kill those pids: its npm start is gone)'
          : `stop it first (Ctrl-C in its terminal, or kill ${start.pid}, its npm start, which stops the rest)`),
    )
  }
  // A start that has not recorded its stack yet.
  const starting = stateLockHolder(dir)
  if (starting !== undefined)
    throw new StackRunningError(
      `npm start is already running from ${dir} (pid ${starting}): stop it first (Ctrl-C in its terminal, or kill ${starting})`,
    )
  if (!existsSync(dir)) return 'absent'
  const entries = readdirSync(dir)
  const ours = dir === stateDir({}, root) || entries.length === 0 || MARKERS.some((m) => entries.includes(m))
  if (!ours)
    throw new Error(`${dir} is not a folder npm start wrote (no ${MARKERS.join(' or ')}): not removing it`)
  rmSync(dir, { recursive: true, force: true })
  return 'wiped'
}

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222'

/**
 * The running stack's env file, less what the operator gave in either form:
 * `NATS_NKEY_SEED=<seed>` set by hand replaces the stack's
 * `NATS_NKEY_SEED_FILE`, rather than meeting it as "set both".
 */
function stackEntries(dir: string, given: Env): Record<string, string> {
  const named = new Set(Object.keys(given).map((name) => name.replace(/_FILE$/, '')))
  return Object.fromEntries(
    Object.entries(readEnvFile(dir)).filter(([name]) => !named.has(name.replace(/_FILE$/, ''))),
  )
}

export interface OperatorEnv {
  env: Record<string, string | undefined>
  /** Where NATS_URL came from, for messages: `NATS_URL`, the stack.json path, or why the default. */
  natsUrlFrom: string
}

/**
 * The environment an operator command (npm run dlq, ...) connects with, so it
 * finds the local stack without flags: NATS_URL from `env` when set; else the
 * running `npm start`'s (stack.json); else nats://127.0.0.1:4222. When the
 * URL is the running stack's, the rest of its env file (credentials) fills
 * whatever `env` leaves unset.
 */
export function operatorEnv(given: Env, root: string = projectRoot): OperatorEnv {
  // An empty value counts as unset (docs/configuration.md): it does not hide the run's own.
  const env = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== ''))
  const dir = stateDir(env, root)
  const stack = readRunningStack(dir)
  const url = env['NATS_URL']
  if (url !== undefined) {
    const local = stack !== undefined && url === stack.natsUrl
    return { env: local ? { ...stackEntries(dir, env), ...env } : { ...env }, natsUrlFrom: 'NATS_URL' }
  }
  if (stack !== undefined)
    return {
      env: { ...stackEntries(dir, env), ...env, NATS_URL: stack.natsUrl },
      natsUrlFrom: stackFilePath(dir),
    }
  return {
    env: { ...env, NATS_URL: DEFAULT_NATS_URL },
    natsUrlFrom: `the default: no npm start is running from ${dir}; set NATS_URL for another server`,
  }
}
