// Payment worker on Bun or Node: `bun run workers/payment/main.ts`.
import { main } from '../../shared/runtime/run-service.ts'
import { paymentEntry } from './entry.ts'

main(paymentEntry)
