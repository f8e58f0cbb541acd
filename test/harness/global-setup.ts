// vitest globalSetup: find a nats-server >= MIN_NATS_SERVER_VERSION (2.12) once
// (fetching the project-local copy with apt if it is missing or older) and hand
// it to the test workers as $NATS_SERVER_BIN. An explicitly set NATS_SERVER_BIN
// that is too old fails here (NatsServerBinUnusableError), fetch or not.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import {
  findOnPath,
  NatsServerNotFoundError,
  projectRoot,
  resolveNatsServer,
} from '../../scripts/nats-server-bin.ts'
import type { ResolvedNatsServer } from '../../scripts/nats-server-bin.ts'
import { MIN_NATS_SERVER_VERSION } from '../../shared/nats/server-version.ts'
import { createTestSecrets } from './test-secrets.ts'

export async function setup(): Promise<() => Promise<void>> {
  const removeSecrets = await createTestSecrets()
  const found = await resolveOrFetch()
  if (found === undefined) return removeSecrets
  process.env['NATS_SERVER_BIN'] = found.bin
  console.log(`[global-setup] nats-server v${found.version} from ${found.source}: ${found.bin}`)
  return removeSecrets
}

async function resolveOrFetch(): Promise<ResolvedNatsServer | undefined> {
  try {
    return await resolveNatsServer()
  } catch (err) {
    if (!(err instanceof NatsServerNotFoundError)) throw err
    const project = err.candidates.find((c) => c.source === 'project')
    const fetchable = project?.status === 'not found' || project?.status === 'too old'
    if (fetchable && findOnPath('apt-get') !== undefined) {
      console.log(
        `[global-setup] no nats-server >= ${MIN_NATS_SERVER_VERSION}; running bash scripts/fetch-nats-server.sh`,
      )
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
