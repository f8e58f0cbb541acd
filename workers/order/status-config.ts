import * as v from 'valibot'
import { bindHostFromEnv, intFromEnv, loadConfig, logLevelFromEnv } from '../../shared/config/load-config.ts'
import { natsSettings } from '../../shared/config/nats-settings.ts'

/** The order-status projection as its own service (`order-status`). */
export const OrderStatusConfigSchema = v.object({
  PORT: intFromEnv(3004, 0, 65535),
  HOST: bindHostFromEnv,
  LOG_LEVEL: logLevelFromEnv,
  ...natsSettings,
})

export type OrderStatusConfig = v.InferOutput<typeof OrderStatusConfigSchema>

export function loadOrderStatusConfig(env: Readonly<Record<string, string | undefined>>): OrderStatusConfig {
  return loadConfig(OrderStatusConfigSchema, env)
}
