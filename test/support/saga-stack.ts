// The whole system as separate processes (`bun run workers/<name>/main.ts`)
// on a real nats-server (or a 3-node cluster) started for the suite, on free ports only.
import { startNatsCluster, type NatsCluster } from '../harness/nats-cluster.ts'
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts'
import { waitFor } from '../harness/wait-for.ts'
import { expectMoneyBalanced } from './money.ts'
import { bearer, provisionNats } from './provision.ts'
import { startWorker, type Command, type ServiceProcess } from './worker-process.ts'

export { BUN, bunRun, crashWorker, reviveWorker, startWorker } from './worker-process.ts'
export type { Command, ServiceProcess, StartWorkerOptions } from './worker-process.ts'

export interface SagaStackOptions {
  inventoryProcesses?: number
  gatewayEnv?: Record<string, string>
  paymentEnv?: Record<string, string>
  /** Added to the environment of every NATS worker (order, inventory, payment). */
  workerEnv?: Record<string, string>
  command?: Command
  /**
   * Where the order-status projection runs: in the order service (default,
   * as `npm start`) or as its own `order-status` service (as compose.yaml).
   */
  projection?: 'in-order' | 'own-service'
  /** Output lines kept per process (default 5000). */
  maxLines?: number
  /** The nats-server serves its monitoring endpoints too (`server.monitorUrl`). */
  natsMonitor?: boolean
  /** The nats-server runs the JetStream API guard (default true): false to delete a consumer of the saga as admin. */
  apiGuard?: boolean
  /** Also start the analytics worker, with this added to its environment. */
  analytics?: Record<string, string>
}

export interface OrderView {
  orderId: string
  status: string
  priority?: 'standard' | 'express'
  reason?: string
  items?: { sku: string; quantity: number }[]
  amountCents?: number
  chargeId?: string
  refundId?: string
  charges?: { chargeId: string; amountCents: number }[]
  refunds?: { refundId: string; chargeId: string; amountCents: number; reason: string }[]
  history: { event: string; status: string; at: string }[]
}

export interface StockView {
  sku: string
  onHand: number
  reserved: number
  available: number
  priceCents: number
}

export interface ChargeView {
  id: string
  amountCents: number
  status: string
  orderId: string
  created: string
  amountRefundedCents?: number
  refunds?: { id: string; amountCents: number }[]
}

/** Where the workers find NATS. */
interface NatsTarget {
  urls: string[]
  replicas: number
}

/** The workers and HTTP helpers on a NATS the caller owns; `dispose` stops the workers only. */
async function startSagaServices(nats: NatsTarget, opts: SagaStackOptions) {
  const {
    inventoryProcesses = 1,
    gatewayEnv = {},
    paymentEnv = {},
    workerEnv = {},
    command,
    maxLines,
    projection = 'in-order',
  } = opts
  const started: ServiceProcess[] = []
  const start = async (worker: string, env: Record<string, string>): Promise<ServiceProcess> => {
    const proc = await startWorker(worker, env, command, maxLines === undefined ? {} : { maxLines })
    started.push(proc)
    return proc
  }
  try {
    const natsEnv = {
      NATS_URL: nats.urls.join(','),
      NATS_CONNECT_TIMEOUT_MS: '10000',
      ...(nats.replicas === 1 ? {} : { NATS_REPLICAS: String(nats.replicas) }),
      ...workerEnv,
    }
    await provisionNats(nats.urls, natsEnv)
    const gateway = await start('gateway', { GATEWAY_SLOW_MS: '5000', ...gatewayEnv })
    const ownProjection = projection === 'own-service'
    const order = await start('order', ownProjection ? { ...natsEnv, ORDER_PROJECTION: 'off' } : natsEnv)
    const orderStatus = ownProjection ? await start('order-status', natsEnv) : undefined
    const inventories: ServiceProcess[] = []
    for (let i = 0; i < inventoryProcesses; i++) inventories.push(await start('inventory', natsEnv))
    const payment = await start('payment', {
      ...natsEnv,
      PAYMENT_GATEWAY_URL: gateway.url,
      PAYMENT_TIMEOUT_MS: '500',
      PAYMENT_RETRY_INITIAL_DELAY_MS: '50',
      ...paymentEnv,
    })
    const analytics = opts.analytics && (await start('analytics', { ...natsEnv, ...opts.analytics }))
    return {
      gateway,
      order,
      /** The projection's own service, when it runs as one (`projection: 'own-service'`). */
      orderStatus,
      inventories,
      payment,
      analytics,
      natsEnv,
      started,
      ...createSagaClient(order, inventories, gateway),
    }
  } catch (error) {
    await Promise.allSettled(started.map((s) => s.handle.kill()))
    throw error
  }
}

/** HTTP helpers; they follow a worker restarted on its port. */
function createSagaClient(
  order: ServiceProcess,
  inventories: readonly ServiceProcess[],
  gateway: ServiceProcess,
) {
  const inventoryUrl = inventories[0]?.url ?? ''
  /** Every order a client got a 202 for: the money invariant covers them all. */
  const placed = new Set<string>()
  async function getOrder(orderId: string): Promise<OrderView | null> {
    const res = await fetch(`${order.url}/orders/${orderId}`, { headers: bearer('client') })
    return res.status === 200 ? ((await res.json()) as OrderView) : null
  }
  return {
    placed,
    /** POST /orders/{id}/cancel as the client that placed it. */
    async cancelOrder(orderId: string): Promise<{ status: number; body: Record<string, unknown> }> {
      const res = await fetch(`${order.url}/orders/${orderId}/cancel`, {
        method: 'POST',
        headers: bearer('client'),
      })
      return { status: res.status, body: (await res.json()) as Record<string, unknown> }
    },
    /** The money invariant over every order placed through this client (waits for reconciliation). */
    moneyBalanced(timeoutMs?: number) {
      // Read as an admin: the orders of every key.
      const asAdmin = async (orderId: string): Promise<OrderView | null> => {
        const res = await fetch(`${order.url}/orders/${orderId}`, { headers: bearer('admin') })
        return res.status === 200 ? ((await res.json()) as OrderView) : null
      }
      return expectMoneyBalanced({ gatewayUrl: gateway.url, getOrder: asAdmin }, placed, timeoutMs)
    },
    async placeOrder(
      body: unknown,
      headers: Record<string, string> = {},
    ): Promise<{ status: number; orderId: string; correlationId: string }> {
      const res = await fetch(`${order.url}/orders`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...bearer('client'), ...headers },
        body: JSON.stringify(body),
      })
      const json = (await res.json()) as { orderId?: string; correlationId?: string }
      if (res.status === 202 && json.orderId !== undefined) placed.add(json.orderId)
      return { status: res.status, orderId: json.orderId ?? '', correlationId: json.correlationId ?? '' }
    },
    getOrder,
    async waitForFinal(orderId: string, timeoutMs = 30_000): Promise<OrderView> {
      return await waitFor(
        async () => {
          const view = await getOrder(orderId)
          return view && (view.status === 'confirmed' || view.status === 'cancelled') ? view : undefined
        },
        { timeoutMs, intervalMs: 100, message: `order ${orderId} confirmed or cancelled` },
      )
    },
    async setStock(sku: string, onHand: number, priceCents: number): Promise<void> {
      const res = await fetch(`${inventoryUrl}/inventory/${sku}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', ...bearer('admin') },
        body: JSON.stringify({ onHand, priceCents }),
      })
      if (res.status !== 200 && res.status !== 201)
        throw new Error(`PUT /inventory/${sku}: ${res.status} ${await res.text()}`)
    },
    async getStock(sku: string): Promise<StockView> {
      const res = await fetch(`${inventoryUrl}/inventory/${sku}`)
      if (res.status !== 200) throw new Error(`GET /inventory/${sku}: ${res.status}`)
      return (await res.json()) as StockView
    },
    async charges(orderId: string): Promise<ChargeView[]> {
      const res = await fetch(`${gateway.url}/charges?orderId=${encodeURIComponent(orderId)}`, {
        headers: bearer('gateway'),
      })
      return ((await res.json()) as { charges: ChargeView[] }).charges
    },
  }
}

type SagaServices = Awaited<ReturnType<typeof startSagaServices>>

function stopServices(services: SagaServices): Promise<unknown> {
  return Promise.allSettled(services.started.map((s) => s.handle.stop(5_000)))
}

/** Every worker on one nats-server (file storage in a temp dir). */
export async function startSagaStack(opts: SagaStackOptions = {}) {
  const server: NatsServerHandle = await startNatsServer({
    monitor: opts.natsMonitor ?? false,
    apiGuard: opts.apiGuard ?? true,
  })
  let services: SagaServices
  try {
    services = await startSagaServices({ urls: [server.url], replicas: 1 }, opts)
  } catch (error) {
    await server.dispose()
    throw error
  }
  return {
    ...services,
    server,
    natsUrls: [server.url],
    async dispose(): Promise<void> {
      await stopServices(services)
      await server.dispose()
    },
  }
}

export type SagaStack = Awaited<ReturnType<typeof startSagaStack>>

/** Every worker on a JetStream cluster, given every node's URL, streams and buckets with one replica per node. */
export async function startClusterSagaStack(opts: SagaStackOptions & { clusterSize?: number } = {}) {
  const cluster: NatsCluster = await startNatsCluster({ size: opts.clusterSize ?? 3 })
  let services: SagaServices
  try {
    services = await startSagaServices({ urls: cluster.urls, replicas: cluster.nodes.length }, opts)
  } catch (error) {
    await cluster.dispose()
    throw error
  }
  return {
    ...services,
    cluster,
    natsUrls: cluster.urls,
    async dispose(): Promise<void> {
      await stopServices(services)
      await cluster.dispose()
    },
  }
}

export type ClusterSagaStack = Awaited<ReturnType<typeof startClusterSagaStack>>
