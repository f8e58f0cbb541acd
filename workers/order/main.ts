// Order intake on Bun or Node: `bun run workers/order/main.ts`.
import { connect } from '@nats-io/transport-node'
import { main } from '../../shared/runtime/run-service.ts'
import { loadOrderConfig } from './config.ts'
import { startOrderService } from './service.ts'

main({
  name: 'order',
  loadConfig: loadOrderConfig,
  start: (config, deps) => startOrderService(config, { ...deps, connect }),
})
