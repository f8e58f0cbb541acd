// The secrets of one bench run, as a deployment has them: NATS identities
// (NKEYs) in the server's authorization block generated from the access
// table, API keys, the gateway key, the card-token keys. Each process gets
// only its own secrets (`serviceSecrets`); the bench's own clients connect as
// admin and send the client (or admin) API key.
import type { ConnectionOptions } from '@nats-io/nats-core'
import type { Identity } from '../../shared/security/access.ts'
import {
  generateDeploymentSecrets,
  natsPublicKeys,
  serviceSecrets,
  type DeploymentSecrets,
  type SecretHolder,
} from '../../shared/security/deployment-secrets.ts'
import { renderAuthorization } from '../../shared/security/nats-auth-config.ts'
import { natsAuthOptions } from '../../shared/security/nats-identity.ts'
import { runProvision } from '../../workers/provision/main.ts'
import { baselineNatsAuth } from '../baselines/nats-auth.ts'

/**
 * The intake's per-key rate limit, raised for the bench: its load generators
 * send every request with one client key (and seeding stock puts 1,001 skus
 * with one admin key through inventory's limit). 1,000,000 is the highest value
 * RATE_LIMIT_PER_SECOND and RATE_LIMIT_BURST accept (shared/http/rate-limit.ts).
 */
export const BENCH_RATE_LIMIT = '1000000'

/** Subjects of the baselines' streams (BENCH_BARE, BENCH_EXPRESS). */
export const BASELINE_SUBJECTS = ['bench.bare.>', 'bench.express.>'] as const

/** What the report says about the security in force. */
export const SECURITY_NOTE =
  'NKEY authentication on nats-server (authorization block generated from shared/security/access.ts, one set of fresh secrets per run); every service connects as its own identity, streams, buckets and consumers made by the provision step (admin); `Authorization: Bearer` API keys on every order and inventory call, the gateway key on /charges; card tokens sealed by the intake and opened by the payment worker; the intake rate limit raised to RATE_LIMIT_PER_SECOND = RATE_LIMIT_BURST = 1,000,000 (the load generators use one key); baselines (b) and (c) publish as the `order` identity (its permissions plus their own subjects); the bench clients (confirmation watcher, raw publisher) connect as admin'

export interface BenchSecurity {
  secrets: DeploymentSecrets
  /** The nats-server `authorization {}` block. */
  authorization: string
  /** Client options that authenticate as `identity`. */
  natsAuth(identity: Identity): Partial<ConnectionOptions>
  /** `Authorization` header value for the client or admin API key. */
  bearer(role: 'client' | 'admin'): string
  /** The secret env of a service (plus the raised rate limit for the intake). */
  env(holder: SecretHolder): Promise<Record<string, string>>
  /** The env of a baseline: the `order` identity's seed, nothing else. */
  baselineEnv(): Record<string, string>
  /** Runs the provision step (admin) against `natsUrl`; throws if it fails. */
  provision(natsUrl: string): Promise<void>
}

export class BenchProvisionError extends Error {
  override readonly name = 'BenchProvisionError'
}

/**
 * The access table's block, with the baselines' subjects added to the `order`
 * user's publish permissions, so (b) and (c) publish under the same identity
 * and the same kind of permission check as the order service (a).
 */
export function benchAuthorization(secrets: DeploymentSecrets): string {
  // No API guard: the bench empties the saga's streams between runs. What the guard adds to the measured
  // paths (one subject-mapping lookup per JetStream API request) is left out of the figures.
  const block = renderAuthorization(natsPublicKeys(secrets), { apiGuard: false })
  const marker = `{ nkey: ${JSON.stringify(secrets.nats.order.publicKey)}, permissions: {\n      publish: { allow: [\n`
  const at = block.indexOf(marker)
  if (at < 0 || block.indexOf(marker, at + 1) >= 0)
    throw new Error('bench: the order user was not found once in the rendered authorization block')
  const extra = BASELINE_SUBJECTS.map((s) => `        ${JSON.stringify(s)},\n`).join('')
  return `${block.slice(0, at + marker.length)}${extra}${block.slice(at + marker.length)}`
}

export async function createBenchSecurity(): Promise<BenchSecurity> {
  const secrets = await generateDeploymentSecrets()
  const seed = (identity: Identity): string => secrets.nats[identity].seed
  // The baselines sign in without the shared module: same inbox prefix, or their replies are refused.
  if (baselineNatsAuth(seed('order')).inboxPrefix !== natsAuthOptions(seed('order')).inboxPrefix)
    throw new Error(
      'bench/baselines/nats-auth.ts no longer derives the inbox prefix as nats-identity.ts does',
    )
  return {
    secrets,
    authorization: benchAuthorization(secrets),
    natsAuth: (identity) => natsAuthOptions(seed(identity)),
    bearer: (role) => `Bearer ${secrets.apiKeys[role]?.key ?? ''}`,
    async env(holder) {
      const env = await serviceSecrets(holder, secrets)
      if (
        holder === 'order' ||
        holder === 'order-intake' ||
        holder === 'order-edge' ||
        holder === 'inventory'
      ) {
        env['RATE_LIMIT_PER_SECOND'] = BENCH_RATE_LIMIT
        env['RATE_LIMIT_BURST'] = BENCH_RATE_LIMIT
      }
      return env
    },
    baselineEnv: () => ({ NATS_NKEY_SEED: seed('order') }),
    async provision(natsUrl) {
      const code = await runProvision({
        NATS_URL: natsUrl,
        NATS_NKEY_SEED: seed('admin'),
        NATS_CONNECT_TIMEOUT_MS: '10000',
        LOG_LEVEL: 'warn',
      })
      if (code !== 0) throw new BenchProvisionError(`provision failed (exit ${code}); see its log above`)
    },
  }
}
