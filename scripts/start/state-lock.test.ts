import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { lockStateDir, StackRunningError, stateLockPath, wipeStateDir } from './run-dir.ts'

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
  it('refuses a second start and a reset while another start holds it', () => {
    const dir = stateDir()
    // Another npm start, alive, holding the lock (as a start that has not written stack.json yet).
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' })
    children.push(other)
    writeFileSync(stateLockPath(dir), `${other.pid}\n`)
    mkdirSync(dir)
    writeFileSync(join(dir, 'env'), '')
    expect(() => lockStateDir(dir)).toThrow(StackRunningError)
    expect(() => lockStateDir(dir)).toThrow(`another npm start (pid ${other.pid}) is using ${dir}`)
    expect(() => wipeStateDir(dir)).toThrow(`npm start (pid ${other.pid}) is using ${dir}`)
    expect(existsSync(join(dir, 'env'))).toBe(true)
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
