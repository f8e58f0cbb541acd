/**
 * What a record seal costs (shared/security/record-seal.ts): one HMAC-SHA256
 * of a stock record the size the saga writes, against a JSON.stringify of
 * the same record as the yardstick every KV write already pays, rounds
 * interleaved. `--skus <n>`: an analytics window with n skus instead (its
 * size grows with them: 1-20 KB).
 *
 *   bun bench/probes/record-seal.ts [--seals 200000] [--rounds 5] [--skus 0]
 *
 * Prints the median µs per seal and per stringify, and their ratio.
 */
import { parseArgs } from 'node:util'
import { deriveRecordKey, sealOf } from '../../shared/security/record-seal.ts'

const { values } = parseArgs({
  options: {
    seals: { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '5' },
    skus: { type: 'string', default: '0' },
  },
})
const count = Number(values.seals)
const rounds = Number(values.rounds)
const skus = Number(values.skus)
const key = await deriveRecordKey('probe master secret', 'inventory-stock')
const record =
  skus === 0
    ? { onHand: 100, priceCents: 1250, holds: { 'order-1': 2, 'order-2': 1 } }
    : {
        minute: 1_767_225_600_000,
        seq: 123_456,
        created: 900,
        confirmed: 850,
        cancelled: { out_of_stock: 20, payment_declined: 30 },
        money: { USD: { revenueCents: 9_876_543, refundedCents: 12_345, refundedRevenueCents: 12_345 } },
        refunds: 3,
        skuUnits: Object.fromEntries(
          Array.from({ length: skus }, (_, i) => [`SKU-${100_000 + i}`, 1 + (i % 7)]),
        ),
        durations: { '10': 400, '11': 300, '12': 150 },
      }
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
