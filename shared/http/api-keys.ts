/**
 * API keys as configured: `API_KEYS` (or `API_KEYS_FILE`) holds entries
 * separated by commas or newlines, each `<id>:<role>:<sha256 hex of the key>`.
 * One id may have several digests (a rotation: the old and the new key side
 * by side, both that id, so its orders and idempotency keys stay its own),
 * all with the same role.
 * Only digests are configured, never keys; a presented key is hashed and
 * compared with every digest in constant time. The hash is `node:crypto`'s
 * where the runtime has it (Bun, Node, Deno: ~0.7 vs ~5 µs per key on Bun) and
 * WebCrypto's elsewhere (Workers), the same bytes either way. No cache of
 * verdicts: it would keep presented keys in memory and make a hit faster than
 * a miss, for a saving of about a microsecond.
 */
import * as v from 'valibot'
import { nodeCrypto } from '../runtime/node-crypto.ts'
import { ApiKeyIdSchema } from '../../schemas/primitives.ts'

export const API_KEY_ROLES = ['client', 'admin'] as const
export type ApiKeyRole = (typeof API_KEY_ROLES)[number]

export interface ApiKey {
  /** Who placed an order (its `owner`); safe to log. */
  id: string
  role: ApiKeyRole
}

interface ConfiguredKey extends ApiKey {
  digest: Uint8Array
}

export type ParsedApiKeys = { ok: true; keys: readonly ConfiguredKey[] } | { ok: false; problems: string[] }

const DIGEST = /^[0-9a-fA-F]{64}$/

/** Reads `API_KEYS`; every problem is reported, by entry number, never quoting a digest. */
export function parseApiKeys(text: string): ParsedApiKeys {
  const entries = text
    .split(/[,\n]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
  const problems: string[] = []
  const keys: ConfiguredKey[] = []
  /** Each id's role, and the entry that set it. */
  const ids = new Map<string, { role: ApiKeyRole; entry: number }>()
  const digests = new Set<string>()
  entries.forEach((entry, index) => {
    const where = `entry ${index + 1}`
    const parts = entry.split(':')
    if (parts.length !== 3) {
      problems.push(`${where}: must be <id>:<role>:<sha256 hex of the key>`)
      return
    }
    const [id = '', role = '', digest = ''] = parts.map((part) => part.trim())
    const entryProblems: string[] = []
    const earlier = ids.get(id)
    if (!v.is(ApiKeyIdSchema, id))
      entryProblems.push(`${where}: the id must be 1-64 characters of a-z, 0-9, _ and -`)
    if (!isRole(role)) entryProblems.push(`${where}: the role must be client or admin`)
    else if (earlier !== undefined && earlier.role !== role)
      entryProblems.push(
        `${where}: the id ${id} has role ${earlier.role} in entry ${earlier.entry}; one id has one role`,
      )
    if (!DIGEST.test(digest))
      entryProblems.push(`${where}: the digest must be 64 hex digits (sha256 of the key)`)
    else if (digests.has(digest.toLowerCase()))
      entryProblems.push(`${where}: the same key digest is used twice`)
    problems.push(...entryProblems)
    if (entryProblems.length > 0 || !isRole(role)) return
    if (earlier === undefined) ids.set(id, { role, entry: index + 1 })
    digests.add(digest.toLowerCase())
    keys.push({ id, role, digest: fromHex(digest) })
  })
  if (entries.length === 0) problems.push('must list at least one key as <id>:<role>:<sha256 hex>')
  return problems.length > 0 ? { ok: false, problems } : { ok: true, keys }
}

/** `API_KEYS` in a config schema: required, parsed, every problem in one message. */
export const apiKeysFromEnv = v.pipe(
  v.string('is required: <id>:<role>:<sha256 hex of the key>, separated by commas or newlines'),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const parsed = parseApiKeys(dataset.value)
    if (parsed.ok) return parsed.keys
    addIssue({ message: parsed.problems.join('; ') })
    return NEVER
  }),
)

export interface ApiKeyVerifier {
  /** The key whose digest matches, or null. Takes the same time whichever key matches. */
  verify(presented: string): Promise<ApiKey | null>
}

/** Longest key that is hashed; a longer one cannot be configured and is refused unhashed. */
export const MAX_KEY_LENGTH = 512

export function createApiKeyVerifier(keys: readonly ConfiguredKey[]): ApiKeyVerifier {
  const known = keys.map(({ id, role, digest }) => ({ key: { id, role }, digest }))
  return {
    async verify(presented) {
      if (presented.length === 0 || presented.length > MAX_KEY_LENGTH) return null
      const digest = await sha256(presented)
      let found: ApiKey | null = null
      // Every digest is compared in full, without an early exit.
      for (const entry of known) {
        if (constantTimeEqual(entry.digest, digest)) found = entry.key
      }
      return found
    },
  }
}

/** A verifier for one shared secret (the gateway's secret key), as an admin key with the given id. */
export function createSecretVerifier(secret: string, id: string): ApiKeyVerifier {
  const verifier = sha256(secret).then((digest) => createApiKeyVerifier([{ id, role: 'admin', digest }]))
  return { verify: async (presented) => (await verifier).verify(presented) }
}

/**
 * `node:crypto`'s one-shot `hash` where the runtime has it (Bun, Node 20.12+):
 * about half the CPU of a `createHash` object, which Bun builds as a stream.
 * Then `createHash`; WebCrypto's digest elsewhere (Workers).
 */
const nodeHash = nodeCrypto?.hash
const nodeCreateHash = nodeCrypto?.createHash

/** SHA-256 of the UTF-8 of `text` (lone surrogates as U+FFFD, as `TextEncoder` writes them). */
export async function sha256(text: string): Promise<Uint8Array> {
  if (nodeHash !== undefined) return asBytes(nodeHash('sha256', text, 'buffer'))
  if (nodeCreateHash !== undefined) return asBytes(nodeCreateHash('sha256').update(text, 'utf8').digest())
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)))
}

function asBytes(digest: Uint8Array): Uint8Array {
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength)
}

export function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
}

function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2)
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return bytes
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0)
  return diff === 0
}

function isRole(role: string): role is ApiKeyRole {
  return (API_KEY_ROLES as readonly string[]).includes(role)
}

/**
 * A required shared secret sent as a bearer token (`GATEWAY_SECRET_KEY`):
 * visible ASCII without spaces, at most {@link MAX_KEY_LENGTH} characters.
 * The message never echoes the value.
 */
export const secretKeyFromEnv = v.pipe(
  v.string('is required (or set it in a file named by the _FILE variable)'),
  v.regex(/^[\x21-\x7E]+$/, 'must be visible ASCII characters without spaces'),
  v.maxLength(MAX_KEY_LENGTH, `must be at most ${MAX_KEY_LENGTH} characters`),
)
