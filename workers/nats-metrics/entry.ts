// The NATS metrics bridge as a runnable entry; `main.ts` runs it, the
// multi-call binary dispatches to it (`order-saga nats-metrics`).
import type { ServiceEntry } from '../../shared/runtime/run-service.ts'
import { loadNatsMetricsConfig, NatsMetricsConfigSchema, type NatsMetricsConfig } from './config.ts'
import { startNatsMetricsService } from './service.ts'

export const natsMetricsEntry: ServiceEntry<NatsMetricsConfig> = {
  name: 'nats-metrics',
  description: "nats-server's /varz and /jsz as Prometheus metrics on GET /metrics",
  schema: NatsMetricsConfigSchema,
  loadConfig: loadNatsMetricsConfig,
  start: (config, { logger }) => startNatsMetricsService(config, { logger }),
}
