// The inventory worker as a runnable entry (config, start); `main.ts` runs it, a
// multi-call binary can dispatch to it.
import { connect } from '@nats-io/transport-node'
import { loadInventoryConfig, InventoryConfigSchema } from './config.ts'
import { startInventoryService } from './service.ts'
import type { ServiceEntry } from '../../shared/runtime/run-service.ts'
import type { InventoryConfig } from './config.ts'

export const inventoryEntry: ServiceEntry<InventoryConfig> = {
  name: 'inventory',
  description: 'inventory worker: reserves, releases and sells stock; GET|PUT /inventory/{sku}',
  schema: InventoryConfigSchema,
  loadConfig: loadInventoryConfig,
  start: (config, deps) => startInventoryService(config, { ...deps, connect }),
}
