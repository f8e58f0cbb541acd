// The whole saga for the end-to-end figures: every worker as its compiled
// binary, deployed as compose.yaml does (the projection in order-status), on
// the bench's nats-server (provisioned by the run), each with its own
// secrets, logs to files.
import type { BenchContext } from './context.ts'
import { readRss } from './processes.ts'
import { startService, type BenchService } from './services.ts'
import type { WorkerName } from './builds.ts'
import { GRANTS } from '../../shared/security/access.ts'

/**
 * The saga consumers this stack's workers read. The provision step makes
 * every consumer of the table; one whose worker the bench does not run
 * (analytics) keeps a backlog, so waits for idle consumers name these.
 */
export const STACK_CONSUMERS: readonly string[] = [
  ...new Set((['order-status', 'inventory', 'payment'] as const).flatMap((w) => GRANTS[w].consumers)),
]

export interface SagaStack {
  services: Record<WorkerName, BenchService>
  rss(): Record<WorkerName, { rssMiB: number; peakMiB: number }>
  stop(): Promise<void>
}

/** `extraEnv` goes to every worker (a diagnostic run's settings; none by default). */
export async function startSaga(
  ctx: BenchContext,
  extraEnv: Record<string, string> = {},
): Promise<SagaStack> {
  const started: BenchService[] = []
  const start = async (worker: WorkerName, env: Record<string, string>): Promise<BenchService> => {
    const svc = await startService({
      name: `saga-${worker}`,
      cmd: ctx.workers.paths[worker],
      env: { ...(await ctx.security.env(worker)), ...env, ...extraEnv },
      logDir: ctx.logDir,
    })
    started.push(svc)
    return svc
  }
  try {
    const natsEnv = { NATS_URL: ctx.nats.url }
    const gateway = await start('gateway', {})
    const order = await start('order', { ...natsEnv, ORDER_PROJECTION: 'off' })
    const orderStatus = await start('order-status', natsEnv)
    const inventory = await start('inventory', natsEnv)
    const payment = await start('payment', { ...natsEnv, PAYMENT_GATEWAY_URL: gateway.url })
    const services = { order, 'order-status': orderStatus, inventory, payment, gateway }
    return {
      services,
      rss: () =>
        Object.fromEntries(
          Object.entries(services).map(([name, svc]) => [name, readRss(svc.proc.pid)]),
        ) as Record<WorkerName, { rssMiB: number; peakMiB: number }>,
      stop: async () => {
        await Promise.allSettled(started.map((s) => s.proc.stop()))
      },
    }
  } catch (error) {
    await Promise.allSettled(started.map((s) => s.proc.stop()))
    throw error
  }
}

/** Puts `onHand` units of every sku, `parallel` PUTs at a time; `authorization` carries the admin API key. */
export async function seedStock(
  inventoryUrl: string,
  authorization: string,
  skus: readonly string[],
  onHand: number,
  parallel = 16,
): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < skus.length) {
      const sku = skus[next++] ?? ''
      const res = await fetch(`${inventoryUrl}/inventory/${sku}`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json', Authorization: authorization },
        body: JSON.stringify({ onHand, priceCents: 1_000 }),
        signal: AbortSignal.timeout(10_000),
      })
      if (res.status !== 200 && res.status !== 201)
        throw new Error(`PUT /inventory/${sku}: ${res.status} ${await res.text()}`)
    }
  }
  await Promise.all(Array.from({ length: parallel }, lane))
}

export const SPREAD_SKUS: readonly string[] = Array.from(
  { length: 1_000 },
  (_, i) => `SKU-${String(i).padStart(4, '0')}`,
)
export const HOT_SKU = 'HOT-0001'

/** Worker settings for a diagnostic run, from `KEY=value,...` in the environment variable `name`. */
export function parseWorkerEnv(name: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const pair of (process.env[name] ?? '').split(',').filter((p) => p.trim() !== '')) {
    const [key, ...value] = pair.split('=')
    if (key === undefined || !/^[A-Z][A-Z0-9_]*$/.test(key.trim()) || value.length === 0)
      throw new Error(`${name}: "${pair}" is not KEY=value`)
    env[key.trim()] = value.join('=')
  }
  return env
}
