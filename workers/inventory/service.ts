import { BUCKETS, SUBJECTS } from '../../schemas/subjects.ts'
import type { ConnectFn } from '../../shared/nats/connect.ts'
import { openBucket, startDurableConsumer, startNatsRuntime, toStoppable } from '../../shared/nats/runtime.ts'
import type { Logger } from '../../shared/observability/logger.ts'
import type { Metrics } from '../../shared/observability/metrics.ts'
import { createApp } from './app.ts'
import type { InventoryConfig } from './config.ts'
import { createInventoryHandlers } from './handlers.ts'
import { createStockStore } from './stock-store.ts'

export const INVENTORY_CONSUMER = 'inventory'

export async function startInventoryService(
  config: InventoryConfig,
  deps: { connect: ConnectFn; logger: Logger; metrics: Metrics },
) {
  const rt = await startNatsRuntime('inventory', config, deps)
  const store = createStockStore(
    await openBucket(rt, BUCKETS.stock),
    await openBucket(rt, BUCKETS.reservations),
  )
  const consumer = await startDurableConsumer(rt, {
    durable: INVENTORY_CONSUMER,
    filterSubjects: [SUBJECTS.orderCreated, SUBJECTS.paymentFailed, SUBJECTS.paymentCompleted],
    handlers: createInventoryHandlers({
      store,
      currency: config.INVENTORY_CURRENCY,
      leaseMs: config.CONSUMER_ACK_WAIT_MS,
    }),
  })
  const app = createApp({ store, logger: deps.logger, metrics: deps.metrics, checkReady: rt.readiness.check })
  return { app, ...toStoppable(rt, [consumer]) }
}
