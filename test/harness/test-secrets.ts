// The test run's secrets: NATS identities, API keys, the gateway key and the
// card-token keys, generated once by the global setup into a 0600 file whose
// path is $ORDER_SAGA_TEST_SECRETS, and read by every test worker. Every
// nats-server the harness starts requires these identities.
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ConnectionOptions } from '@nats-io/nats-core'
import type { Identity } from '../../shared/security/access.ts'
import {
  generateDeploymentSecrets,
  serviceSecrets,
  type DeploymentSecrets,
  type SecretHolder,
} from '../../shared/security/deployment-secrets.ts'
import { natsAuthOptions } from '../../shared/security/nats-identity.ts'

export const TEST_SECRETS_ENV = 'ORDER_SAGA_TEST_SECRETS'

/** Global setup: writes fresh secrets and points $ORDER_SAGA_TEST_SECRETS at them; returns the teardown. */
export async function createTestSecrets(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'order-saga-secrets-'))
  const file = join(dir, 'secrets.json')
  await writeFile(file, JSON.stringify(await generateDeploymentSecrets()), { mode: 0o600 })
  process.env[TEST_SECRETS_ENV] = file
  return () => rm(dir, { recursive: true, force: true })
}

let cached: DeploymentSecrets | undefined

export function testSecrets(): DeploymentSecrets {
  if (cached) return cached
  const file = process.env[TEST_SECRETS_ENV]
  if (file === undefined || file === '') {
    throw new Error(
      `${TEST_SECRETS_ENV} is not set: run the tests through vitest (its global setup writes it)`,
    )
  }
  cached = JSON.parse(readFileSync(file, 'utf8')) as DeploymentSecrets
  return cached
}

/** Client options that authenticate as `identity` (admin by default) against a harness server. */
export function authAs(identity: Identity = 'admin'): Partial<ConnectionOptions> {
  return natsAuthOptions(testSecrets().nats[identity].seed)
}

/** The secret env entries of a worker started by a test (`order`, `inventory`, `payment`, `gateway`, `order-status`). */
export function workerSecrets(worker: string): Promise<Record<string, string>> {
  const holder = (worker === 'order-edge' ? 'order-edge' : worker) as SecretHolder
  return serviceSecrets(holder, testSecrets())
}
