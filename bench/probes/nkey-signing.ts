/**
 * What the Worker intake spends signing nats-server's connect challenge (it
 * connects per request): nats.js's NKEY code (`@nats-io/nkeys`) derives the
 * key pair from the seed and signs, for every signature. tweetnacl (what
 * nkeys brings) against `shared/security/edge-nacl.ts` (@noble/ed25519, what
 * the Worker's bundle takes in its place), interleaved round by round:
 *
 *   npx deno run -A bench/probes/nkey-signing.ts [--ops 200] [--rounds 5]
 *   (Deno: V8, the engine workerd runs)
 *
 * Prints the median time per challenge signed, each way, and their ratio.
 */
import { parseArgs } from 'node:util'
import nacl from 'tweetnacl'
import edgeNacl from '../../shared/security/edge-nacl.ts'

const { values } = parseArgs({ options: { ops: { type: 'string' }, rounds: { type: 'string' } } })
const ops = Number(values.ops ?? 200)
const rounds = Number(values.rounds ?? 5)
const seed = crypto.getRandomValues(new Uint8Array(32))
const nonce = new TextEncoder().encode('dGhlIHNlcnZlcidzIG5vbmNl')

/** One challenge as nkeys signs it: the pair from the seed, then the signature (kp.js, `sign`). */
const ways = {
  tweetnacl: () => nacl.sign.detached(nonce, nacl.sign.keyPair.fromSeed(seed).secretKey),
  'noble (edge-nacl.ts)': () => edgeNacl.sign.detached(nonce, edgeNacl.sign.keyPair.fromSeed(seed).secretKey),
}
if (Buffer.compare(ways.tweetnacl(), ways['noble (edge-nacl.ts)']()) !== 0)
  throw new Error('signatures differ')
const times: Record<string, number[]> = { tweetnacl: [], 'noble (edge-nacl.ts)': [] }
for (const run of Object.values(ways)) for (let i = 0; i < 20; i++) run() // warm-up
for (let round = 0; round < rounds; round++) {
  for (const [name, run] of Object.entries(ways)) {
    const started = performance.now()
    for (let i = 0; i < ops; i++) run()
    times[name]!.push((performance.now() - started) / ops)
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const [old, now] = Object.values(times).map(median) as [number, number]
for (const [name, xs] of Object.entries(times))
  console.log(
    `${name.padEnd(22)} ${median(xs).toFixed(3)} ms per challenge (rounds: ${xs.map((x) => x.toFixed(3)).join(', ')})`,
  )
console.log(`noble ÷ tweetnacl: ${(now / old).toFixed(3)}`)
