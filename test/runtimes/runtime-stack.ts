// The saga on one nats-server with every worker started by a `Command`, so the
// same end-to-end order test runs on Bun, Node 20, Deno 2, a compiled binary
// (pass its Command) or behind a Worker (test/runtimes/edge.ts).
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts'
import { bearer, provisionNats } from '../support/provision.ts'
import { bunRun, startWorker, type Command, type ServiceProcess } from '../support/saga-stack.ts'

export interface RuntimeStackOptions {
  /** How each worker is started (default: `bun run workers/<name>/main.ts`). */
  command?: Command
  /** Extra environment for one worker, e.g. WebSocket NATS for the order service. */
  envFor?: (worker: string, server: NatsServerHandle) => Record<string, string>
}

export interface RuntimeStack {
  server: NatsServerHandle
  order: ServiceProcess
  inventory: ServiceProcess
  payment: ServiceProcess
  gateway: ServiceProcess
  setStock(sku: string, onHand: number, priceCents: number): Promise<void>
  dispose(): Promise<void>
}

export async function startRuntimeStack({
  command = bunRun,
  envFor = () => ({}),
}: RuntimeStackOptions = {}): Promise<RuntimeStack> {
  const server = await startNatsServer()
  const started: ServiceProcess[] = []
  const start = async (worker: string, env: Record<string, string>): Promise<ServiceProcess> => {
    const proc = await startWorker(worker, { ...env, ...envFor(worker, server) }, command)
    started.push(proc)
    return proc
  }
  const dispose = async (): Promise<void> => {
    await Promise.allSettled(started.map((s) => s.handle.stop(5_000)))
    await server.dispose()
  }
  try {
    const nats = { NATS_URL: server.url, NATS_CONNECT_TIMEOUT_MS: '10000' }
    // As in production: the admin provision step creates streams, buckets and consumers first.
    await provisionNats([server.url], nats)
    const gateway = await start('gateway', {})
    const order = await start('order', nats)
    const inventory = await start('inventory', nats)
    const payment = await start('payment', {
      ...nats,
      PAYMENT_GATEWAY_URL: gateway.url,
      PAYMENT_TIMEOUT_MS: '1000',
    })
    return {
      server,
      order,
      inventory,
      payment,
      gateway,
      async setStock(sku, onHand, priceCents) {
        const res = await fetch(`${inventory.url}/inventory/${sku}`, {
          method: 'PUT',
          headers: { 'Content-Type': 'application/json', ...bearer('admin') },
          body: JSON.stringify({ onHand, priceCents }),
          signal: AbortSignal.timeout(5_000),
        })
        if (res.status !== 200 && res.status !== 201)
          throw new Error(`PUT /inventory/${sku}: ${res.status} ${await res.text()}`)
      },
      dispose,
    }
  } catch (error) {
    await dispose()
    throw error
  }
}
