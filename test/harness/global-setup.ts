// vitest globalSetup: find a nats-server >= 2.10 once (fetching the project-local
// copy with apt if nothing fits) and hand it to the test workers as $NATS_SERVER_BIN.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import {
  findOnPath,
  NatsServerNotFoundError,
  projectNatsServerPath,
  projectRoot,
  resolveNatsServer,
} from '../../scripts/nats-server-bin.ts'
import type { ResolvedNatsServer } from '../../scripts/nats-server-bin.ts'

export async function setup(): Promise<void> {
  const found = await resolveOrFetch()
  if (found === undefined) return
  process.env['NATS_SERVER_BIN'] = found.bin
  console.log(`[global-setup] nats-server v${found.version} from ${found.source}: ${found.bin}`)
}

async function resolveOrFetch(): Promise<ResolvedNatsServer | undefined> {
  try {
    return await resolveNatsServer()
  } catch (err) {
    if (!(err instanceof NatsServerNotFoundError)) throw err
    if (!existsSync(projectNatsServerPath()) && findOnPath('apt-get') !== undefined) {
      console.log('[global-setup] no nats-server >= 2.10; running bash scripts/fetch-nats-server.sh')
      await runFetchScript()
      return resolveNatsServer()
    }
    if (process.env['NATS_URL']) {
      console.warn(
        `[global-setup] ${err.message}\nUsing NATS_URL; tests that start their own servers will fail.`,
      )
      return undefined
    }
    throw err
  }
}

function runFetchScript(): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn('bash', [join(projectRoot, 'scripts', 'fetch-nats-server.sh')], {
      cwd: projectRoot,
      stdio: 'inherit',
    })
    child.once('error', (err) =>
      fail(new Error('could not run scripts/fetch-nats-server.sh', { cause: err })),
    )
    child.once('exit', (code, signal) =>
      code === 0
        ? done()
        : fail(new Error(`scripts/fetch-nats-server.sh failed (code ${code}, signal ${signal})`)),
    )
  })
}
