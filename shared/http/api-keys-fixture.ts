/** Test fixture: API keys as a deployment configures them. Used only by tests. */
import { createApiKeyVerifier, parseApiKeys, sha256, toHex, type ApiKeyRole } from './api-keys.ts'

export const TEST_KEYS = {
  alice: { key: 'sk_client_alice_0123456789', role: 'client' },
  bob: { key: 'sk_client_bob_0123456789', role: 'client' },
  ops: { key: 'sk_admin_ops_0123456789', role: 'admin' },
} as const satisfies Record<string, { key: string; role: ApiKeyRole }>

export type TestKeyId = keyof typeof TEST_KEYS

/** `API_KEYS` for {@link TEST_KEYS}: `<id>:<role>:<sha256 hex>` entries. */
export async function testApiKeysSetting(): Promise<string> {
  const entries = await Promise.all(
    Object.entries(TEST_KEYS).map(async ([id, { key, role }]) => `${id}:${role}:${toHex(await sha256(key))}`),
  )
  return entries.join(',')
}

export async function createTestVerifier() {
  const parsed = parseApiKeys(await testApiKeysSetting())
  if (!parsed.ok) throw new Error(parsed.problems.join('; '))
  return createApiKeyVerifier(parsed.keys)
}

/** `Authorization: Bearer <key>` of a test key. */
export function bearer(id: TestKeyId): { Authorization: string } {
  return { Authorization: `Bearer ${TEST_KEYS[id].key}` }
}
