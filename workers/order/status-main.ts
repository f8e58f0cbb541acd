// The order-status projection on Bun or Node: `bun run workers/order/status-main.ts`.
import { main } from '../../shared/runtime/run-service.ts'
import { orderStatusEntry } from './status-entry.ts'

main(orderStatusEntry)
