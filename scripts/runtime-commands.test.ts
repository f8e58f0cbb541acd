import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { projectRoot } from './nats-server-bin.ts'
import { DENO_FLAGS, denoTask, workerCommand } from './runtime-commands.ts'

const WORKERS = ['order', 'inventory', 'payment', 'gateway'] as const

describe('deno.json tasks', () => {
  it('run every worker with the permissions of `npm run start:deno`, by the installed Deno', () => {
    const { tasks } = JSON.parse(readFileSync(join(projectRoot, 'deno.json'), 'utf8')) as {
      tasks: Record<string, string>
    }
    expect(tasks).toStrictEqual(Object.fromEntries(WORKERS.map((w) => [w, denoTask(w)])))
    for (const worker of WORKERS) {
      const { args } = workerCommand('deno', worker, { root: projectRoot })
      expect(tasks[worker]).toBe(`./node_modules/.bin/deno ${args.join(' ')}`)
      expect(args).toStrictEqual(['run', ...DENO_FLAGS, expect.stringMatching(/^workers\//)])
    }
  })
})
