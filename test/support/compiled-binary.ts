// Running a compiled binary from a test: to its exit with exactly the given
// environment, or as PID 1 of a new PID namespace to see how it takes SIGTERM.
import { execFile, spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { spawnService } from '../harness/process.ts'
import { waitFor } from '../harness/wait-for.ts'

/** Runs a binary to its exit with exactly `env` (nothing inherited), within 10 s. */
export function exec(file: string, args: readonly string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; out: string }>((done) => {
    execFile(file, args, { env, timeout: 10_000, cwd: tmpdir() }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
      done({ code, out: `${stdout}${stderr}` })
    })
  })
}

const SIGTERM_BIT = 1n << 14n
/** The caught-signals mask (SigCgt) of a /proc/<pid>/status text. */
const sigCaught = (status: string): bigint =>
  BigInt(`0x${/^SigCgt:\s+([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`)

/** The binary as PID 1 of a new PID namespace (`unshare --pid --fork`); resolves with its exit. */
export async function sigtermAsPid1(file: string, args: readonly string[], env: Record<string, string>) {
  const proc = await spawnService({
    cmd: 'unshare',
    args: ['--pid', '--fork', '--kill-child', '--', file, ...args],
    env: { PORT: '0', HOST: '127.0.0.1', ...env },
    readyLine: /listening"/,
  })
  try {
    const children = await readFile(`/proc/${proc.pid}/task/${proc.pid}/children`, 'utf8')
    const pid = Number(children.trim().split(' ')[0])
    const nsPids = (await readFile(`/proc/${pid}/status`, 'utf8'))
      .match(/^NSpid:\s+(.*)$/m)?.[1]
      ?.split(/\s+/)
    // Bun installs its SIGTERM handler a moment after the service logs "listening";
    // a PID 1 ignores a SIGTERM that comes earlier (reported). Wait until it is caught.
    await waitFor(
      async () => (sigCaught(await readFile(`/proc/${pid}/status`, 'utf8')) & SIGTERM_BIT) !== 0n,
      {
        timeoutMs: 5_000,
        intervalMs: 5,
        message: 'a SIGTERM handler installed',
      },
    )
    process.kill(pid, 'SIGTERM')
    const exit = await waitFor(() => (proc.running ? undefined : proc.exited), {
      timeoutMs: 15_000,
      message: 'exit after SIGTERM',
    }).catch((error: unknown) => {
      throw new Error(`${String(error)}\n--- output ---\n${proc.lines().join('\n')}`, { cause: error })
    })
    return { pidInNamespace: nsPids?.at(-1), exit, lastLine: proc.lines().at(-1) ?? '' }
  } finally {
    await proc.stop(1_000)
  }
}

/** Whether this process may start a new PID namespace (`unshare --pid` needs root). */
export function canUnsharePid(): boolean {
  return spawnSync('unshare', ['--pid', '--fork', 'true'], { timeout: 5_000 }).status === 0
}
