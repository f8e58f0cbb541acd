// Baseline (b): the least a Bun intake can do. `Bun.serve`, parse the JSON,
// one JetStream publish with a message id, 202. No validation, logs or metrics.
//   NATS_URL=nats://127.0.0.1:4222 NATS_NKEY_SEED=SU... PORT=3100 bun bench/baselines/bare-bun.ts
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { baselineNatsAuth } from './nats-auth.ts'

const env = process.env
const subject = env['BENCH_SUBJECT'] ?? 'bench.bare.orders.created'
// NATS_NKEY_SEED: the identity it publishes as (the bench gives it the `order` identity's).
const nc = await connect({
  servers: env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
  name: 'bare-bun',
  ...baselineNatsAuth(env['NATS_NKEY_SEED']),
})
const js = jetstream(nc, { timeout: 2_000 })

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(env['PORT'] ?? 3100),
  async fetch(req) {
    const { pathname } = new URL(req.url)
    if (req.method === 'GET' && pathname === '/ready') return new Response('ok')
    if (req.method !== 'POST' || pathname !== '/orders') return new Response('not found', { status: 404 })
    const order = (await req.json()) as Record<string, unknown>
    const orderId = crypto.randomUUID()
    const event = JSON.stringify({ ...order, orderId })
    await js.publish(subject, event, { msgID: orderId })
    return Response.json({ orderId, status: 'pending' }, { status: 202 })
  },
})

process.on('SIGTERM', () => {
  void server
    .stop()
    .then(() => nc.drain())
    .finally(() => process.exit(0))
})
