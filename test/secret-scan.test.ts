// The leak scan the saga and chaos suites end with must find a token when one is there.
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { expect, it } from 'vitest'
import { startNatsServer } from './harness/nats-server.ts'
import { provisionNats } from './support/provision.ts'
import { CARD_TOKEN, findInStreams } from './support/secret-scan.ts'

it('finds a card token in a stream message and in a KV record, and nothing in a clean stream', async () => {
  await using server = await startNatsServer({ websocket: false })
  await provisionNats([server.url])
  const nc = await connect(server.connectOptions())
  try {
    expect(await findInStreams(nc, CARD_TOKEN)).toStrictEqual([])
    const js = jetstream(nc)
    await js.publish('orders.created', '{"clean":true}')
    await js.publish('orders.created', '{"paymentToken":"tok_flaky"}')
    await js.publish('$KV.order-idempotency.k1', '{"request":{"paymentToken":"tok_ok"}}')
    expect(await findInStreams(nc, CARD_TOKEN)).toStrictEqual(['KV_order-idempotency#1', 'ORDERS#2'])
  } finally {
    await nc.close()
  }
})
