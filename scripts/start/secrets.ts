// The local stack's secrets: NATS identities (NKEYs), API keys, the gateway's
// secret key, the card-token keys, the idempotency digest key and the route password. Made on the first
// start and kept in <state>/secrets.json (mode 0600): tokens sealed before a
// restart must still open after it, and the keys a developer exported stay
// valid. API_KEY, ADMIN_API_KEY and GATEWAY_SECRET_KEY from the environment
// win over the stored ones. Each worker gets only its own, as files
// (<state>/secrets/<worker>/<NAME>, passed as NAME_FILE).
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as v from 'valibot'
import { secretKeyFromEnv } from '../../shared/http/api-keys.ts'
import {
  generateDeploymentSecrets,
  randomSecret,
  serviceSecrets,
  type DeploymentSecrets,
  type SecretHolder,
} from '../../shared/security/deployment-secrets.ts'
import { IDENTITIES } from '../../shared/security/access.ts'
import { createNkeyIdentity } from '../../shared/security/nats-identity.ts'
import type { StackContext } from './context.ts'
import type { WorkerName } from './options.ts'
import { writePrivateFile } from './run-dir.ts'

type Env = Readonly<Record<string, string | undefined>>

export const secretsFile = (stateDir: string): string => join(stateDir, 'secrets.json')

const given = (env: Env, name: string): string | undefined => {
  const value = env[name]
  return value === undefined || value === '' ? undefined : value
}

/** An identity added since the file was made (the console's, say) gets its key now. */
function withEveryIdentity(stored: Partial<DeploymentSecrets['nats']>): DeploymentSecrets['nats'] {
  return Object.fromEntries(
    IDENTITIES.map((id) => [id, stored[id] ?? createNkeyIdentity()]),
  ) as DeploymentSecrets['nats']
}

/** Keys given in the environment that no service would take: each problem in one line; nothing is saved. */
export class StackSecretsError extends Error {
  override readonly name = 'StackSecretsError'
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '))
  }
}

/** What the services would refuse in the keys npm start hands them (the values are never shown). */
function keyProblems(env: Env, secrets: DeploymentSecrets): string[] {
  const problems: string[] = []
  for (const name of ['API_KEY', 'ADMIN_API_KEY', 'GATEWAY_SECRET_KEY'] as const) {
    const value = given(env, name)
    if (value === undefined) continue
    const checked = v.safeParse(secretKeyFromEnv, value)
    if (!checked.success) problems.push(`${name}: ${checked.issues[0].message}`)
  }
  const [client, admin] = [secrets.apiKeys['client']?.key, secrets.apiKeys['admin']?.key]
  if (client !== undefined && client === admin)
    problems.push(
      `API_KEY and ADMIN_API_KEY are the same key${given(env, 'API_KEY') === undefined || given(env, 'ADMIN_API_KEY') === undefined ? ' (one of them as saved before)' : ''}: a client key must not be the admin's`,
    )
  return problems
}

export async function loadStackSecrets(stateDir: string, env: Env): Promise<DeploymentSecrets> {
  const file = secretsFile(stateDir)
  const stored = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as DeploymentSecrets)
    : await generateDeploymentSecrets()
  const secrets: DeploymentSecrets = {
    ...stored,
    nats: withEveryIdentity(stored.nats),
    apiKeys: {
      ...stored.apiKeys,
      client: { key: given(env, 'API_KEY') ?? stored.apiKeys['client']?.key ?? '', role: 'client' },
      admin: { key: given(env, 'ADMIN_API_KEY') ?? stored.apiKeys['admin']?.key ?? '', role: 'admin' },
    },
    gatewaySecretKey: given(env, 'GATEWAY_SECRET_KEY') ?? stored.gatewaySecretKey,
    // Made by a release before the key existed: one now (records made before are unkeyed and still compared).
    idempotencyFingerprintKey: stored.idempotencyFingerprintKey ?? randomSecret(''),
    // Made by a release before record seals: one now (the provision step keeps the records made before readable).
    recordSealSecret: stored.recordSealSecret ?? randomSecret(''),
  }
  // Checked before they are saved: a key no service takes would fail every later start too.
  const problems = keyProblems(env, secrets)
  if (problems.length > 0) throw new StackSecretsError(problems)
  mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  writePrivateFile(file, `${JSON.stringify(secrets)}\n`)
  return secrets
}

/** Writes one holder's secrets as files (in `secrets/<folder>`) and returns them as NAME_FILE entries. */
export async function secretFiles(
  stateDir: string,
  holder: SecretHolder,
  secrets: DeploymentSecrets,
  folder: string = holder,
): Promise<Record<string, string>> {
  const dir = join(stateDir, 'secrets', folder)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const entries: Record<string, string> = {}
  for (const [name, value] of Object.entries(await serviceSecrets(holder, secrets))) {
    const file = join(dir, name)
    writePrivateFile(file, value)
    entries[`${name}_FILE`] = file
  }
  return entries
}

/** The start step: each worker's secret files, and the keys for the user's shell (the env file). */
export function applySecrets(secrets: DeploymentSecrets): (ctx: StackContext) => Promise<void> {
  return async (ctx) => {
    for (const worker of Object.keys(ctx.workerSecrets) as WorkerName[]) {
      ctx.workerSecrets[worker] = await secretFiles(ctx.stateDir, worker, secrets)
    }
    const admin = await secretFiles(ctx.stateDir, 'admin', secrets)
    Object.assign(ctx.operatorEnv, {
      API_KEY: secrets.apiKeys['client']?.key ?? '',
      ADMIN_API_KEY: secrets.apiKeys['admin']?.key ?? '',
      GATEWAY_SECRET_KEY: secrets.gatewaySecretKey,
      // The operator commands (dlq, provision) connect as admin.
      ...admin,
    })
  }
}
