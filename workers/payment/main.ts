// Payment worker on Bun or Node: `bun run workers/payment/main.ts`.
import { connect } from '@nats-io/transport-node'
import { main } from '../../shared/runtime/run-service.ts'
import { loadPaymentConfig, PaymentConfigSchema } from './config.ts'
import { startPaymentService } from './service.ts'

main({
  name: 'payment',
  description: 'payment worker: charges through the payment gateway',
  schema: PaymentConfigSchema,
  loadConfig: loadPaymentConfig,
  start: (config, deps) => startPaymentService(config, { ...deps, connect }),
})
