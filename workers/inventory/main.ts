// Inventory worker on Bun or Node: `bun run workers/inventory/main.ts`.
import { main } from '../../shared/runtime/run-service.ts'
import { inventoryEntry } from './entry.ts'

main(inventoryEntry)
