// The payment worker as a runnable entry (config, start); `main.ts` runs it, a
// multi-call binary can dispatch to it.
import { connect } from '@nats-io/transport-node'
import { loadPaymentConfig, PaymentConfigSchema } from './config.ts'
import { startPaymentService } from './service.ts'
import type { ServiceEntry } from '../../shared/runtime/run-service.ts'
import type { PaymentConfig } from './config.ts'

export const paymentEntry: ServiceEntry<PaymentConfig> = {
  name: 'payment',
  description: 'payment worker: charges through the payment gateway',
  schema: PaymentConfigSchema,
  loadConfig: loadPaymentConfig,
  start: (config, deps) => startPaymentService(config, { ...deps, connect }),
}
