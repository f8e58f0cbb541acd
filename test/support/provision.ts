// The provision step for a test's NATS, as `npm start` and compose run it:
// the real `provision` command in-process, as the admin identity, with the
// stack's NATS settings (replicas, ack wait, ...).
import { runProvision } from '../../workers/provision/main.ts'
import { testSecrets } from '../harness/test-secrets.ts'

export async function provisionNats(
  urls: readonly string[],
  env: Record<string, string> = {},
): Promise<void> {
  const code = await runProvision({
    LOG_LEVEL: 'warn',
    NATS_CONNECT_TIMEOUT_MS: '30000',
    ...env,
    NATS_URL: urls.join(','),
    NATS_NKEY_SEED: testSecrets().nats.admin.seed,
  })
  if (code !== 0) throw new Error(`provision failed (exit ${code}); see its log above`)
}

/** `Authorization` headers for the test run's keys. */
export function bearer(kind: 'client' | 'admin' | 'gateway'): Record<string, string> {
  const secrets = testSecrets()
  const key = kind === 'gateway' ? secrets.gatewaySecretKey : (secrets.apiKeys[kind]?.key ?? '')
  return { Authorization: `Bearer ${key}` }
}
