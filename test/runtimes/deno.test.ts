// Every worker on Deno 2 from the TypeScript sources; the order service through
// its Deno entry on NATS over WebSocket, the others over TCP. Every secret is
// given as a file (`NAME_FILE`), as `npm run start:deno` gives them: Deno reads
// them only with the permissions the project's commands grant.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { workerSecrets } from '../harness/test-secrets.ts'
import { runtimeCommand } from './commands.ts'
import { describeOrderRuntime, processTarget } from './order-suite.ts'
import { startRuntimeStack } from './runtime-stack.ts'

/** Each worker's secrets as files: `NAME` emptied, `NAME_FILE` naming a file that holds it. */
async function secretFiles(workers: readonly string[]): Promise<Map<string, Record<string, string>>> {
  const dir = mkdtempSync(join(tmpdir(), 'deno-secrets-'))
  const byWorker = new Map<string, Record<string, string>>()
  for (const worker of workers) {
    const env: Record<string, string> = {}
    for (const [name, value] of Object.entries(await workerSecrets(worker))) {
      const path = join(dir, `${worker}.${name}`)
      writeFileSync(path, `${value}\n`, { mode: 0o600 })
      env[name] = ''
      env[`${name}_FILE`] = path
    }
    byWorker.set(worker, env)
  }
  return byWorker
}

describeOrderRuntime('Deno 2', async () => {
  const files = await secretFiles(['gateway', 'order', 'inventory', 'payment'])
  return processTarget(
    await startRuntimeStack({
      command: runtimeCommand('deno'),
      envFor: (worker, server) => ({
        ...files.get(worker),
        ...(worker === 'order' && server.wsUrl !== undefined ? { NATS_URL: server.wsUrl } : {}),
      }),
    }),
  )
})
