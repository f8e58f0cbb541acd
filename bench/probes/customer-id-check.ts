/**
 * What the intake's check of a customer id costs per order (schemas/order-request.ts):
 * the version-1 body's whole schema, with today's check of what an id shows,
 * against the same schema with the check before it (one regex test, written
 * out here), interleaved round by round in one run.
 *
 *   bun bench/probes/customer-id-check.ts [--ops 200000] [--rounds 5]
 *
 * Prints the median time per validation of each, and their difference: the
 * CPU a POST pays for the check, to set beside the intake's ~0.13 ms per POST
 * (docs/performance.md).
 */
import { parseArgs } from 'node:util'
import * as v from 'valibot'
import { CreateOrderRequestV1 } from '../../schemas/order-request.ts'
import { CustomerIdSchema } from '../../schemas/primitives.ts'

const { values } = parseArgs({
  options: { ops: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } },
})
const ops = Number(values.ops)
const rounds = Number(values.rounds)

const BEFORE_CHECK =
  /(?!\u200d)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u034f\u115f\u1160\u3164\uffa0\u2800]|(?<![\p{Extended_Pictographic}0-9#*])[\ufe00-\ufe0f]|(?<!\p{Extended_Pictographic}|\ufe0f|\p{Emoji_Modifier})\u200d|\u200d(?!\p{Extended_Pictographic})|\p{M}{5}/u
const before = v.object({
  ...CreateOrderRequestV1.entries,
  customerId: v.pipe(
    CustomerIdSchema,
    v.check((id) => !BEFORE_CHECK.test(id), 'hidden'),
  ),
})

const bodies = ['alice', 'customer-0042', 'Nguyễn Văn An', '山田太郎', '👩🏽\u200D💻 dev'].map(
  (customerId) => ({
    customerId,
    items: [{ sku: 'MUG-002', quantity: 2 }],
    paymentToken: 'tok_ok',
  }),
)

function perOp(schema: v.GenericSchema): number {
  const started = performance.now()
  for (let i = 0; i < ops; i++) {
    if (!v.safeParse(schema, bodies[i % bodies.length]).success) throw new Error('a valid body was refused')
  }
  return ((performance.now() - started) * 1000) / ops
}

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
const times = { before: [] as number[], now: [] as number[] }
perOp(before)
perOp(CreateOrderRequestV1)
for (let r = 0; r < rounds; r++) {
  times.before.push(perOp(before))
  times.now.push(perOp(CreateOrderRequestV1))
}
const [b, n] = [median(times.before), median(times.now)]
console.log(
  `customer id check, ${ops} validations x ${rounds} rounds (median µs per validation of the whole body)`,
)
console.log(`  check before: ${b.toFixed(3)} µs`)
console.log(`  check now:    ${n.toFixed(3)} µs`)
console.log(`  difference:   ${(n - b).toFixed(3)} µs per POST (${((n / b - 1) * 100).toFixed(1)}%)`)
