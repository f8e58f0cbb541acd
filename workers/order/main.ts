// Order intake on Bun or Node: `bun run workers/order/main.ts`.
import { connect } from '@nats-io/transport-node'
import { main } from '../../shared/runtime/run-service.ts'
import { loadOrderConfig, OrderConfigSchema } from './config.ts'
import { startOrderService } from './service.ts'

main({
  name: 'order',
  description: 'order intake: POST /orders, GET /orders/{orderId}, order-status projection',
  schema: OrderConfigSchema,
  loadConfig: loadOrderConfig,
  start: (config, deps) => startOrderService(config, { ...deps, connect }),
})
