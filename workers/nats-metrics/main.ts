// NATS metrics bridge on Bun or Node: `bun run workers/nats-metrics/main.ts`.
import { main } from '../../shared/runtime/run-service.ts'
import { natsMetricsEntry } from './entry.ts'

main(natsMetricsEntry)
