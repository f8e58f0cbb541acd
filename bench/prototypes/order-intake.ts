// BENCH ONLY, not product code: the order service as shipped, with one
// experiment switched on by an environment variable, to measure what a
// product change would buy before anyone makes it.
//
//   BENCH_SKIP_PENDING_STATUS=1  the intake's read-your-writes KV create
//     (`$KV.order-status.<id>`) is answered locally instead of by NATS: one
//     round trip per POST less. Needs ORDER_PROJECTION=off (the projection
//     writes the same subjects).
import type { Msg, NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { main } from '../../shared/runtime/run-service.ts'
import { orderEntry } from '../../workers/order/entry.ts'
import { startOrderService } from '../../workers/order/service.ts'

const skipPending = process.env['BENCH_SKIP_PENDING_STATUS'] === '1'
if (skipPending && process.env['ORDER_PROJECTION'] !== 'off') {
  process.stderr.write('BENCH_SKIP_PENDING_STATUS=1 needs ORDER_PROJECTION=off\n')
  process.exit(1)
}

const fakeAck = { data: new TextEncoder().encode('{"stream":"KV_order-status","seq":1}') } as unknown as Msg

async function benchConnect(options: Parameters<typeof connect>[0]): Promise<NatsConnection> {
  const nc = await connect(options)
  if (skipPending) {
    const request = nc.request.bind(nc)
    nc.request = (subject, payload, opts) =>
      subject.startsWith('$KV.order-status.') ? Promise.resolve(fakeAck) : request(subject, payload, opts)
  }
  return nc
}

main({
  ...orderEntry,
  start: (config, deps) => startOrderService(config, { ...deps, connect: benchConnect }),
})
