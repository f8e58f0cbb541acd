// The order-status projection as a runnable entry; `status-main.ts` runs it,
// the multi-call binary dispatches to it.
import { connect } from '@nats-io/transport-node'
import type { ServiceEntry } from '../../shared/runtime/run-service.ts'
import { loadOrderStatusConfig, OrderStatusConfigSchema, type OrderStatusConfig } from './status-config.ts'
import { startOrderStatusService } from './status-service.ts'

export const orderStatusEntry: ServiceEntry<OrderStatusConfig> = {
  name: 'order-status',
  description: 'order-status projection: every order event into the bucket GET /orders/{orderId} reads',
  schema: OrderStatusConfigSchema,
  loadConfig: loadOrderStatusConfig,
  start: (config, deps) => startOrderStatusService(config, { ...deps, connect }),
}
