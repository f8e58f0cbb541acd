// Order intake on Bun or Node: `bun run workers/order/main.ts`.
import { main } from '../../shared/runtime/run-service.ts'
import { orderEntry } from './entry.ts'

main(orderEntry)
