// Inventory worker on Bun or Node: `bun run workers/inventory/main.ts`.
import { connect } from '@nats-io/transport-node'
import { main } from '../../shared/runtime/run-service.ts'
import { loadInventoryConfig, InventoryConfigSchema } from './config.ts'
import { startInventoryService } from './service.ts'

main({
  name: 'inventory',
  description: 'inventory worker: reserves, releases and sells stock; GET|PUT /inventory/{sku}',
  schema: InventoryConfigSchema,
  loadConfig: loadInventoryConfig,
  start: (config, deps) => startInventoryService(config, { ...deps, connect }),
})
