// The operator console on Bun or Node: `bun run workers/console/main.ts`.
import { main } from '../../shared/runtime/run-service.ts'
import { consoleEntry } from './entry.ts'

main(consoleEntry)
