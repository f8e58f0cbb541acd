// The whole system as separate processes (`bun run workers/<name>/main.ts`)
// on a real nats-server started for the suite, on free ports only.
import { join } from 'node:path'
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts'
import { spawnService, type ServiceHandle } from '../harness/process.ts'
import { waitFor } from '../harness/wait-for.ts'

const ROOT = join(import.meta.dirname, '..', '..')
export const BUN = join(ROOT, 'node_modules', '.bin', 'bun')

export interface ServiceProcess {
  handle: ServiceHandle
  url: string
}

export type Command = (worker: string) => { cmd: string; args: string[] }

/** `bun run workers/<name>/main.ts` by default; a test may run compiled binaries instead. */
export const bunRun: Command = (worker) => ({ cmd: BUN, args: ['run', `workers/${worker}/main.ts`] })

export async function startWorker(
  worker: string,
  env: Record<string, string>,
  command: Command = bunRun,
): Promise<ServiceProcess> {
  const { cmd, args } = command(worker)
  const handle = await spawnService({
    cmd,
    args,
    cwd: ROOT,
    env: { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    readyLine: /"msg":"[a-z]* ?listening"/,
    readyTimeoutMs: 30_000,
  })
  const line = handle.lines().find((l) => /"msg":"[a-z]* ?listening"/.test(l)) ?? ''
  const { port } = JSON.parse(line) as { port: number }
  return { handle, url: `http://127.0.0.1:${port}` }
}

export interface SagaStackOptions {
  inventoryProcesses?: number
  gatewayEnv?: Record<string, string>
  paymentEnv?: Record<string, string>
  command?: Command
}

export interface OrderView {
  orderId: string
  status: string
  reason?: string
  history: { event: string; status: string; at: string }[]
}

export interface StockView {
  sku: string
  onHand: number
  reserved: number
  available: number
  priceCents: number
}

export async function startSagaStack({ inventoryProcesses = 1, gatewayEnv = {}, paymentEnv = {}, command }: SagaStackOptions = {}) {
  const server: NatsServerHandle = await startNatsServer()
  const started: ServiceProcess[] = []
  try {
    const nats = { NATS_URL: server.url, NATS_CONNECT_TIMEOUT_MS: '10000' }
    const gateway = await startWorker('gateway', { GATEWAY_SLOW_MS: '5000', ...gatewayEnv }, command)
    started.push(gateway)
    const order = await startWorker('order', nats, command)
    started.push(order)
    const inventories: ServiceProcess[] = []
    for (let i = 0; i < inventoryProcesses; i++) {
      const inventory = await startWorker('inventory', nats, command)
      inventories.push(inventory)
      started.push(inventory)
    }
    const payment = await startWorker(
      'payment',
      { ...nats, PAYMENT_GATEWAY_URL: gateway.url, PAYMENT_TIMEOUT_MS: '500', PAYMENT_RETRY_INITIAL_DELAY_MS: '50', ...paymentEnv },
      command,
    )
    started.push(payment)
    const inventoryUrl = inventories[0]?.url ?? ''
    async function getOrder(orderId: string): Promise<OrderView | null> {
      const res = await fetch(`${order.url}/orders/${orderId}`)
      return res.status === 200 ? ((await res.json()) as OrderView) : null
    }

    return {
      server,
      gateway,
      order,
      inventories,
      payment,
      async placeOrder(body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; orderId: string; correlationId: string }> {
        const res = await fetch(`${order.url}/orders`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...headers },
          body: JSON.stringify(body),
        })
        const json = (await res.json()) as { orderId?: string; correlationId?: string }
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
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ onHand, priceCents }),
        })
        if (res.status !== 200 && res.status !== 201) throw new Error(`PUT /inventory/${sku}: ${res.status} ${await res.text()}`)
      },
      async getStock(sku: string): Promise<StockView> {
        const res = await fetch(`${inventoryUrl}/inventory/${sku}`)
        if (res.status !== 200) throw new Error(`GET /inventory/${sku}: ${res.status}`)
        return (await res.json()) as StockView
      },
      async charges(orderId: string): Promise<{ id: string; amountCents: number; status: string }[]> {
        const res = await fetch(`${gateway.url}/charges?orderId=${encodeURIComponent(orderId)}`)
        return ((await res.json()) as { charges: { id: string; amountCents: number; status: string }[] }).charges
      },
      async dispose(): Promise<void> {
        await Promise.allSettled(started.map((s) => s.handle.stop(5_000)))
        await server.dispose()
      },
    }
  } catch (error) {
    await Promise.allSettled(started.map((s) => s.handle.kill()))
    await server.dispose()
    throw error
  }
}

export type SagaStack = Awaited<ReturnType<typeof startSagaStack>>
