// The whole saga for the end-to-end figures: every worker as its compiled
// binary, deployed as compose.yaml does (the projection in order-status), on
// the bench's nats-server (provisioned by the run), each with its own
// secrets, logs to files.
import type { BenchContext } from './context.ts'
import { niceSession, readRss } from './processes.ts'
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

/** ORDER_DEADLINE_MS of the bench's inventory workers: longer than any run (docs/performance.md). */
export const RUN_DEADLINE_MS = 3 * 60 * 60 * 1000

export interface SagaStack {
  services: Record<WorkerName, BenchService>
  /** Express-lane processes when the lanes run split (their CPU counts with the rest). */
  expressLane: Record<string, BenchService>
  rss(): Record<WorkerName, { rssMiB: number; peakMiB: number }>
  stop(): Promise<void>
}

/**
 * `extraEnv` goes to every worker (a diagnostic run's settings; none by
 * default). `splitLanes`: inventory, payment and order-status run twice, one
 * process per lane (CONSUMER_LANES), the standard ones at `standardNice`
 * (docs/priority.md).
 */
export async function startSaga(
  ctx: BenchContext,
  extraEnv: Record<string, string> = {},
  { splitLanes }: { splitLanes?: { standardNice: number } } = {},
): Promise<SagaStack> {
  const started: BenchService[] = []
  const start = async (
    worker: WorkerName,
    env: Record<string, string>,
    { name = `saga-${worker}`, nice = 0 }: { name?: string; nice?: number } = {},
  ): Promise<BenchService> => {
    const binary = ctx.workers.paths[worker]
    const svc = await startService({
      name,
      cmd: nice === 0 ? binary : 'nice',
      args: nice === 0 ? [] : ['-n', String(nice), binary],
      env: { ...(await ctx.security.env(worker)), ...env, ...extraEnv },
      logDir: ctx.logDir,
    })
    started.push(svc)
    if (nice !== 0) niceSession(svc.proc.pid, nice)
    return svc
  }
  try {
    const natsEnv = { NATS_URL: ctx.nats.url }
    const gateway = await start('gateway', {})
    const order = await start('order', { ...natsEnv, ORDER_PROJECTION: 'off' })
    const paymentEnv = { ...natsEnv, PAYMENT_GATEWAY_URL: gateway.url }
    // Each order's deadline is scheduled as shipped (one message per order),
    // but due after the run: at the shipped 10 minutes, the orders a section
    // stopped its workers with were cancelled by their deadlines in the
    // middle of a later section, on the run's one nats-server.
    const inventoryEnv = { ...natsEnv, ORDER_DEADLINE_MS: String(RUN_DEADLINE_MS) }
    const laneWorkers = [
      ['order-status', natsEnv],
      ['inventory', inventoryEnv],
      ['payment', paymentEnv],
    ] as const
    const standardLane = splitLanes === undefined ? {} : { CONSUMER_LANES: 'standard' }
    const nice = splitLanes?.standardNice ?? 0
    const lanes: BenchService[] = []
    for (const [worker, env] of laneWorkers)
      lanes.push(await start(worker, { ...env, ...standardLane }, { nice }))
    const expressLane: Record<string, BenchService> = {}
    if (splitLanes !== undefined)
      for (const [worker, env] of laneWorkers)
        expressLane[`${worker}-express`] = await start(
          worker,
          { ...env, CONSUMER_LANES: 'express' },
          { name: `saga-${worker}-express` },
        )
    const services = {
      order,
      'order-status': lanes[0] as BenchService,
      inventory: lanes[1] as BenchService,
      payment: lanes[2] as BenchService,
      gateway,
    }
    return {
      services,
      expressLane,
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
  // A comma starts a new pair only before `KEY=`: a value may hold commas (ORDER_CREATED_VERSIONS=1,2).
  for (const pair of (process.env[name] ?? '')
    .split(/,(?=\s*[A-Z][A-Z0-9_]*=)/)
    .filter((p) => p.trim() !== '')) {
    const [key, ...value] = pair.split('=')
    if (key === undefined || !/^[A-Z][A-Z0-9_]*$/.test(key.trim()) || value.length === 0)
      throw new Error(`${name}: "${pair}" is not KEY=value`)
    env[key.trim()] = value.join('=')
  }
  return env
}
