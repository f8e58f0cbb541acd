import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { waitFor } from '../../test/harness/wait-for.ts'
import { descendantsOf, niceSession, spawnLogged, stopWithDescendants } from './processes.ts'

const dir = mkdtempSync(join(tmpdir(), 'bench-processes-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('stopWithDescendants', () => {
  it('stops a process and the children it started in process groups of their own', async () => {
    // A parent that starts a grandchild in a session (so a group) of its own, as a bench does its workers.
    const proc = spawnLogged({
      name: 'tree',
      cmd: 'sh',
      args: ['-c', 'setsid sleep 60 & sleep 60'],
      cwd: dir,
      logFile: join(dir, 'tree.log'),
      unsetEnv: ['HOME'],
    })
    const found = await waitFor(
      () => {
        const pids = descendantsOf(proc.pid)
        return pids.length >= 2 ? pids : undefined
      },
      { timeoutMs: 5_000, message: 'the two sleeps started' },
    )
    await stopWithDescendants(proc)
    await waitFor(() => found.every((pid) => !alive(pid)), {
      timeoutMs: 5_000,
      message: 'every descendant gone',
    })
    expect(found.some(alive)).toBe(false)
  })
})

const autogroups =
  existsSync('/proc/sys/kernel/sched_autogroup_enabled') &&
  readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1'

describe('niceSession', () => {
  it.runIf(autogroups)("sets the nice of a bench process's session, which plain nice does not", async () => {
    const proc = spawnLogged({
      name: 'niced',
      cmd: 'nice',
      args: ['-n', '5', 'sleep', '60'],
      cwd: dir,
      logFile: join(dir, 'niced.log'),
    })
    try {
      // Its own session (spawnLogged detaches), so its own autogroup, still at 0 under `nice -n 5`.
      expect(readFileSync(`/proc/${proc.pid}/autogroup`, 'utf8')).toMatch(/ nice 0$/m)
      expect(niceSession(proc.pid, 5)).toBe(true)
      expect(readFileSync(`/proc/${proc.pid}/autogroup`, 'utf8')).toMatch(/ nice 5$/m)
      expect(readFileSync(`/proc/self/autogroup`, 'utf8')).not.toBe(
        readFileSync(`/proc/${proc.pid}/autogroup`, 'utf8'),
      )
    } finally {
      await stopWithDescendants(proc)
    }
  })
})
