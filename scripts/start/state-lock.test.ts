import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../../test/harness/wait-for.ts'
import { lockStateDir, StackRunningError, START_MARKER, stateLockPath, wipeStateDir } from './run-dir.ts'

const dirs: string[] = []
const children: ReturnType<typeof spawn>[] = []
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

function stateDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'state-lock-'))
  dirs.push(root)
  return join(root, 'run')
}

describe("npm start's lock on its state folder", () => {
  it('refuses a second start and a reset while another start holds it', async () => {
    const dir = stateDir()
    // Another npm start, alive, holding the lock (as a start that has not written stack.json yet).
    const other = spawn('bash', ['-c', `exec -a scripts/${START_MARKER} sleep 60`], { stdio: 'ignore' })
    children.push(other)
    await waitFor(
      () => readFileSync(`/proc/${other.pid}/cmdline`, 'utf8').startsWith(`scripts/${START_MARKER}`),
      {
        timeoutMs: 5_000,
        message: 'the stand-in npm start',
      },
    )
    writeFileSync(stateLockPath(dir), `${other.pid}\n`)
    mkdirSync(dir)
    writeFileSync(join(dir, 'env'), '')
    expect(() => lockStateDir(dir)).toThrow(StackRunningError)
    expect(() => lockStateDir(dir)).toThrow(`npm start is already running from ${dir} (pid ${other.pid})`)
    expect(() => wipeStateDir(dir)).toThrow(`npm start is already running from ${dir} (pid ${other.pid})`)
    expect(existsSync(join(dir, 'env'))).toBe(true)
  })

  it('takes over a lock whose pid is now another program, not an npm start', () => {
    const dir = stateDir()
    const unrelated = spawn('sleep', ['60'], { stdio: 'ignore' })
    children.push(unrelated)
    writeFileSync(stateLockPath(dir), `${unrelated.pid}\n`)
    lockStateDir(dir)
    expect(readFileSync(stateLockPath(dir), 'utf8').trim()).toBe(String(process.pid))
    rmSync(stateLockPath(dir))
  })

  it("takes over the lock of a start that is gone, and holds it under this process's pid", async () => {
    const dir = stateDir()
    const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
    await new Promise((resolve) => gone.on('exit', resolve))
    writeFileSync(stateLockPath(dir), `${gone.pid}\n`)
    lockStateDir(dir)
    expect(readFileSync(stateLockPath(dir), 'utf8').trim()).toBe(String(process.pid))
    // Its own lock does not stop it from removing its folder (--fresh).
    mkdirSync(dir)
    writeFileSync(join(dir, 'env'), '')
    expect(wipeStateDir(dir)).toBe('wiped')
    rmSync(stateLockPath(dir))
  })
})
