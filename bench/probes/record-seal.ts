/**
 * What a record seal costs (shared/security/record-seal.ts): one HMAC-SHA256
 * of a stock record the size the saga writes, against a JSON.stringify of
 * the same record as the yardstick every KV write already pays, rounds
 * interleaved.
 *
 *   bun bench/probes/record-seal.ts [--seals 200000] [--rounds 5]
 *
 * Prints the median µs per seal and per stringify, and their ratio.
 */
import { parseArgs } from 'node:util'
import { deriveRecordKey, sealOf } from '../../shared/security/record-seal.ts'

const { values } = parseArgs({
  options: { seals: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } },
})
const count = Number(values.seals)
const rounds = Number(values.rounds)
const key = await deriveRecordKey('probe master secret', 'inventory-stock')
const record = { onHand: 100, priceCents: 1250, holds: { 'order-1': 2, 'order-2': 1 } }
const bytes = new TextEncoder().encode(JSON.stringify(record))

async function sealRound(): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < count; i++) await sealOf(key, 'inventory-stock', `SKU-${i % 100}`, bytes)
  return ((performance.now() - started) * 1000) / count
}
function stringifyRound(): number {
  const started = performance.now()
  let length = 0
  for (let i = 0; i < count; i++) length += JSON.stringify(record).length
  if (length === 0) throw new Error('unreachable')
  return ((performance.now() - started) * 1000) / count
}

await sealRound() // warm-up
const seal: number[] = []
const stringify: number[] = []
for (let r = 0; r < rounds; r++) {
  seal.push(await sealRound())
  stringify.push(stringifyRound())
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
const s = median(seal)
const j = median(stringify)
console.log(`record of ${bytes.length} bytes, ${count} per round, median of ${rounds}`)
console.log(`seal ${s.toFixed(2)} µs, JSON.stringify ${j.toFixed(2)} µs, ratio ${(s / j).toFixed(1)}x`)
