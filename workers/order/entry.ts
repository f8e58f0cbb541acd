// The order worker as a runnable entry (config, start); `main.ts` runs it, a
// multi-call binary can dispatch to it.
import { connect } from '@nats-io/transport-node'
import { loadOrderConfig, OrderConfigSchema } from './config.ts'
import { startOrderService } from './service.ts'
import type { ServiceEntry } from '../../shared/runtime/run-service.ts'
import type { OrderConfig } from './config.ts'

export const orderEntry: ServiceEntry<OrderConfig> = {
  name: 'order',
  description: 'order intake: POST /orders, GET /orders/{orderId}, order-status projection',
  schema: OrderConfigSchema,
  loadConfig: loadOrderConfig,
  start: (config, deps) => startOrderService(config, { ...deps, connect }),
}
