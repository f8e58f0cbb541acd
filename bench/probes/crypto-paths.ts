/**
 * What the saga's per-request crypto costs, WebCrypto (the code before issue
 * #17, still the Worker's) against `node:crypto` (now, on Bun, Node and Deno),
 * in one run:
 *
 *   seal          the intake seals a card token (AES-256-GCM, sender key cached)
 *   open          payment opens it (derived key cached)
 *   api key       every authenticated request: SHA-256 of the presented key,
 *                 compared with every configured digest
 *   fingerprint   the gateway's SHA-256 hex of a charge request
 *
 *   bun bench/probes/crypto-paths.ts [--ops 20000] [--rounds 5]
 *   (deno run -A bench/probes/crypto-paths.ts works too)
 *
 * Prints the median wall time per operation of each path, old and new
 * interleaved round by round (a loaded machine inflates both alike; compare
 * the rows of one run). The "old" rows of api key and fingerprint are the
 * replaced WebCrypto code, written out here.
 */
import { parseArgs } from 'node:util'
import { createApiKeyVerifier, parseApiKeys, toHex, type ApiKey } from '../../shared/http/api-keys.ts'
import { importNodeAesGcmKey } from '../../shared/security/aes-gcm-node.ts'
import {
  createTokenOpener,
  createTokenSealer,
  generateSealingKeyPair,
} from '../../shared/security/sealed-token.ts'
import { chargeFingerprint } from '../../workers/gateway/request-fingerprint.ts'

const { values } = parseArgs({
  options: { ops: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '5' } },
})
const ops = Number(values.ops)
const rounds = Number(values.rounds)

const ORDER = '01890a5d-ac96-774b-bcce-b302099a8057'
const TOKEN = 'tok_visa_4242424242424242'
const encoder = new TextEncoder()

async function webSha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)))
}

// The intake's configured keys: a few digests, the presented key is the last one's.
const presented = 'sk_client_carol_0123456789abcdef'
const entries = await Promise.all(
  ['alice', 'bob', 'ops', 'carol'].map(async (id, i) => {
    const key = i === 3 ? presented : `sk_${id}_0123456789abcdef`
    return `${id}:${id === 'ops' ? 'admin' : 'client'}:${toHex(await webSha256(key))}`
  }),
)
const parsed = parseApiKeys(entries.join(','))
if (!parsed.ok) throw new Error(parsed.problems.join('; '))
const verifier = createApiKeyVerifier(parsed.keys)

/** The verifier before #17: WebCrypto's digest, then every digest compared in full. */
async function oldVerify(key: string): Promise<ApiKey | null> {
  const digest = await webSha256(key)
  let found: ApiKey | null = null
  if (!parsed.ok) return null
  for (const entry of parsed.keys) {
    let diff = entry.digest.length ^ digest.length
    for (let i = 0; i < digest.length; i++) diff |= (entry.digest[i] ?? 0) ^ (digest[i] ?? 0)
    if (diff === 0) found = { id: entry.id, role: entry.role }
  }
  return found
}

async function oldFingerprint(parts: readonly unknown[]): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', encoder.encode(JSON.stringify(parts)))
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, '0')).join('')
}

const keys = await generateSealingKeyPair()
// The services pass node:crypto's AES-GCM; the default (and the Worker's) is WebCrypto's.
const withNode = { importAesGcmKey: importNodeAesGcmKey }
const sealers = {
  old: await createTokenSealer(keys.publicJwk),
  new: await createTokenSealer(keys.publicJwk, withNode),
}
const openers = {
  old: await createTokenOpener([keys.privateJwk]),
  new: await createTokenOpener([keys.privateJwk], withNode),
}
const sealed = await sealers.old.seal(TOKEN, ORDER)
const charge = { amountCents: 4999, currency: 'EUR', token: TOKEN, orderId: ORDER }

type Op = () => Promise<unknown>
const paths: Array<{ name: string; old: Op; new: Op }> = [
  { name: 'seal', old: () => sealers.old.seal(TOKEN, ORDER), new: () => sealers.new.seal(TOKEN, ORDER) },
  { name: 'open', old: () => openers.old.open(sealed, ORDER), new: () => openers.new.open(sealed, ORDER) },
  { name: 'api key', old: () => oldVerify(presented), new: () => verifier.verify(presented) },
  {
    name: 'fingerprint',
    old: () => oldFingerprint(['charge', charge.amountCents, charge.currency, charge.token, charge.orderId]),
    new: () => chargeFingerprint(charge),
  },
]

// Same answers before timing anything.
for (const path of paths) {
  const [a, b] = [await path.old(), await path.new()]
  const same = path.name === 'seal' ? true : JSON.stringify(a) === JSON.stringify(b)
  if (!same) throw new Error(`${path.name}: old and new differ`)
}
if ((await openers.old.open(await sealers.new.seal(TOKEN, ORDER), ORDER)) !== TOKEN)
  throw new Error('seal: the old opener does not open a new token')

async function microsPerOp(op: Op): Promise<number> {
  const start = performance.now()
  for (let i = 0; i < ops; i++) await op()
  return ((performance.now() - start) * 1000) / ops
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const runtime =
  'Deno' in globalThis
    ? 'deno'
    : typeof process.versions.bun === 'string'
      ? `bun ${process.versions.bun}`
      : 'node'
console.log(`crypto paths on ${runtime}: ${ops} ops x ${rounds} rounds, median µs/op`)
console.log(`${'path'.padEnd(12)} ${'webcrypto'.padStart(10)} ${'now'.padStart(10)} ${'ratio'.padStart(7)}`)
for (const path of paths) {
  for (let i = 0; i < Math.min(2000, ops); i++) await Promise.all([path.old(), path.new()])
  const times = { old: [] as number[], new: [] as number[] }
  for (let round = 0; round < rounds; round++) {
    times.old.push(await microsPerOp(path.old))
    times.new.push(await microsPerOp(path.new))
  }
  const [before, after] = [median(times.old), median(times.new)]
  console.log(
    `${path.name.padEnd(12)} ${before.toFixed(2).padStart(10)} ${after.toFixed(2).padStart(10)} ${(before / after).toFixed(1).padStart(6)}x`,
  )
}
