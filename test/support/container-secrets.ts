// The compose stack's secrets for a test run: `npm run compose:secrets` into a
// temp folder (ORDER_SAGA_COMPOSE_DIR, which compose.yaml reads too), and what
// the test needs from it: the HTTP keys, and the admin NATS identity with the CA.
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ConnectionOptions } from '@nats-io/nats-core'
import { COMPOSE_DIR_VAR } from '../../scripts/container/compose-secrets.ts'
import { fromEnvFile } from '../../scripts/start/run-dir.ts'
import { natsClientOptions } from '../../shared/security/nats-client-options.ts'
import { run } from './container-tools.ts'

export interface StackKeys {
  /** API_KEY: a client key of the intake. */
  apiKey: string
  /** ADMIN_API_KEY: sets stock, reads every order. */
  adminApiKey: string
  /** GATEWAY_SECRET_KEY: the gateway sandbox's charge routes. */
  gatewaySecretKey: string
}

export interface StackSecrets {
  dir: string
  /** { ORDER_SAGA_COMPOSE_DIR: dir }, for compose. */
  composeEnv: Record<string, string>
  keys: StackKeys
  /** Client options of the admin identity over TLS (the stack's CA). */
  admin: Partial<ConnectionOptions>
  caFile: string
  remove(): Promise<void>
}

/** Runs `npm run compose:secrets` into a fresh temp folder and reads its env file back. */
export async function makeStackSecrets(): Promise<StackSecrets> {
  const dir = await mkdtemp(join(tmpdir(), 'order-saga-compose-'))
  const composeEnv = { [COMPOSE_DIR_VAR]: dir }
  try {
    // Keys from the caller's environment would win: the test wants its own.
    const unset = { API_KEY: '', ADMIN_API_KEY: '', GATEWAY_SECRET_KEY: '' }
    await run('npm', ['run', '--silent', 'compose:secrets'], { env: { ...composeEnv, ...unset } })
    const env = fromEnvFile(await readFile(join(dir, 'env'), 'utf8'))
    const need = (name: string): string => {
      const value = env[name]
      if (value === undefined || value === '') throw new Error(`compose:secrets wrote no ${name}`)
      return value
    }
    const caFile = need('NATS_TLS_CA_FILE')
    const seed = (await readFile(need('NATS_NKEY_SEED_FILE'), 'utf8')).trim()
    return {
      dir,
      composeEnv,
      keys: {
        apiKey: need('API_KEY'),
        adminApiKey: need('ADMIN_API_KEY'),
        gatewaySecretKey: need('GATEWAY_SECRET_KEY'),
      },
      admin: natsClientOptions({ NATS_NKEY_SEED: seed, NATS_TLS_CA_FILE: caFile }),
      caFile,
      remove: () => rm(dir, { recursive: true, force: true }),
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
}
