/**
 * What building an event's headers costs: nats.js `h.set` for each header
 * against `setHeader` (shared/nats/set-header.ts), the same eleven headers,
 * encoded as they go on the wire, alternating round by round.
 *
 *   bun bench/probes/event-headers.ts [--ops 200000] [--rounds 5]
 */
import { MsgHdrsImpl, type MsgHdrs } from '@nats-io/nats-core'
import { parseArgs } from 'node:util'
import { setHeader } from '../../shared/nats/set-header.ts'
import { median } from '../lib/stats.ts'

const { values } = parseArgs({
  options: { ops: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '5' } },
})
const ops = Number(values.ops)
const rounds = Number(values.rounds)
const EVENT: [string, string][] = [
  ['X-Correlation-ID', '0192f1a2-7c1e-7b2a-9f00-abcdef012345'],
  ['Event-Version', '1'],
  ['ce-specversion', '1.0'],
  ['ce-id', 'inventory.reserved:0192f1a2-7c1e-7b2a-9f00-abcdef012345'],
  ['ce-source', '/order-saga/inventory'],
  ['ce-type', 'order-saga.inventory.reserved.v1'],
  ['ce-time', '2026-12-04T13:00:00.000Z'],
  ['ce-subject', '0192f1a2-7c1e-7b2a-9f00-abcdef012345'],
  ['ce-datacontenttype', 'application/json'],
  ['content-type', 'application/json'],
  ['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
]
const ways: Record<string, (h: MsgHdrs, name: string, value: string) => void> = {
  'nats.js set': (h, name, value) => h.set(name, value),
  setHeader,
}
const perOp: Record<string, number[]> = {}
let sink = 0
for (let round = 0; round <= rounds; round++) {
  for (const [label, set] of Object.entries(ways)) {
    const started = performance.now()
    for (let i = 0; i < ops; i++) {
      const h = new MsgHdrsImpl()
      for (const [name, value] of EVENT) set(h, name, value)
      sink += h.encode().length
    }
    // Round 0 warms the JIT up and is not counted.
    if (round > 0) (perOp[label] ??= []).push(((performance.now() - started) * 1000) / ops)
  }
}
for (const [label, xs] of Object.entries(perOp))
  console.log(
    `${label.padEnd(12)} ${median(xs).toFixed(2)} µs per event's headers, encoded (median of ${rounds})`,
  )
if (sink === 0) console.log('(nothing encoded)')
