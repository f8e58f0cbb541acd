// Peer (c): what a typical team writes on Node. Express 5 with its JSON body
// parser, the project's Valibot schema, one JetStream publish with a message
// id (the NATS client on Node), 202 with Location. No logs or metrics.
// Node 20 runs no TypeScript: the bench bundles this with `bun build --target=node`.
import { randomUUID } from 'node:crypto'
import { jetstream } from '@nats-io/jetstream'
import { headers as natsHeaders } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import express from 'express'
import * as v from 'valibot'
import { CreateOrderRequestV1 } from '../../schemas/order-request.ts'
import { baselineNatsAuth } from './nats-auth.ts'

const env = process.env
const subject = env['BENCH_SUBJECT'] ?? 'bench.express.orders.created'
// NATS_NKEY_SEED: the identity it publishes as (the bench gives it the `order` identity's).
const nc = await connect({
  servers: env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
  name: 'express-peer',
  ...baselineNatsAuth(env['NATS_NKEY_SEED']),
})
const js = jetstream(nc, { timeout: 2_000 })

const app = express()
app.use(express.json({ limit: '64kb' }))
app.get('/ready', (_req, res) => {
  res.send('ok')
})
app.post('/orders', async (req, res, next) => {
  try {
    const parsed = v.safeParse(CreateOrderRequestV1, req.body)
    if (!parsed.success) {
      res.status(400).json({ error: 'invalid_order', issues: parsed.issues.map((i) => i.message) })
      return
    }
    const orderId = randomUUID()
    const correlationId = req.get('X-Correlation-ID') ?? randomUUID()
    const h = natsHeaders()
    h.set('X-Correlation-ID', correlationId)
    const event = { version: 1, orderId, occurredAt: new Date().toISOString(), ...parsed.output }
    await js.publish(subject, JSON.stringify(event), { msgID: orderId, headers: h })
    res.status(202).location(`/orders/${orderId}`).json({ orderId, status: 'pending', correlationId })
  } catch (error) {
    next(error)
  }
})

const server = app.listen(Number(env['PORT'] ?? 3200), '127.0.0.1')
process.on('SIGTERM', () => {
  server.close(() => {
    void nc.drain().finally(() => process.exit(0))
  })
})
