// Load generator for POST /orders, run under Node (bundled by the bench):
//   node generator.mjs '<GeneratorConfig as JSON>'   -> one JSON line on stdout
// closed: `concurrency` users, each sends its next order when the last one is
//   answered (or confirmed, with `natsUrl`);
// open: orders arrive at `rate`/s on a fixed schedule whatever the answers, and
//   latency counts from the intended send time, so a stall is not hidden
//   (no coordinated omission).
import { summarizeLatencies, type LatencySummary } from '../lib/stats.ts'
import { watchConfirmations, type ConfirmationWatcher } from './confirmations.ts'
import { createHttpDriver } from './http-driver.ts'

export interface GeneratorConfig {
  url: string
  mode: 'closed' | 'open'
  /** closed: users; open: most connections at once. */
  concurrency: number
  /** open: arrivals per second. */
  rate: number
  warmupMs: number
  durationMs: number
  /** Orders go to these skus in turn (one sku: every order hits it). */
  skus: string[]
  idempotencyKeys: boolean
  /** `Authorization` header of every POST (the client API key). */
  authorization: string
  /** Wait for each order to be confirmed (seen on the order-status KV subject). */
  natsUrl?: string
  /** The NKEY seed the watcher connects with (the admin's: it reads every order's status). */
  natsSeed?: string
  /** After the window, how long to wait for answers and confirmations. */
  settleTimeoutMs: number
  /** Every order's lane (`express` needs a key that may ask for it); none: the default, standard. */
  priority?: 'express' | 'standard'
}

export interface GeneratorResult {
  mode: 'closed' | 'open'
  windowMs: number
  sent: number
  statuses: Record<string, number>
  errors: number
  firstError?: string
  /** 2xx answers per second inside the window. */
  httpPerSec: number
  http: LatencySummary
  /** open: how late the generator itself sent, against the schedule. */
  scheduleLag?: LatencySummary
  confirmedPerSec?: number
  confirm?: LatencySummary
  cancelled?: number
  unsettled?: number
}

type Settled = { at: number; status: 'confirmed' | 'cancelled' } | 'timeout'

export async function generate(config: GeneratorConfig): Promise<GeneratorResult> {
  const driver = createHttpDriver(config.url, config.concurrency)
  const watcher: ConfirmationWatcher | undefined = config.natsUrl
    ? await watchConfirmations(config.natsUrl, config.natsSeed)
    : undefined
  const t0 = performance.now() + 20
  const windowStart = t0 + config.warmupMs
  const windowEnd = windowStart + config.durationMs
  const inWindow = (t: number): boolean => t >= windowStart && t < windowEnd
  const statuses: Record<string, number> = {}
  const httpLatencies: number[] = []
  const confirmLatencies: number[] = []
  const lags: number[] = []
  let sent = 0
  let okInWindow = 0
  let confirmedInWindow = 0
  let errors = 0
  let cancelled = 0
  let unsettled = 0
  let firstError: string | undefined
  const runId = Math.random().toString(36).slice(2, 8)

  const settle = (w: ConfirmationWatcher, orderId: string): Promise<Settled> => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = Math.max(windowEnd + config.settleTimeoutMs - performance.now(), 1_000)
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), deadline)
    })
    return Promise.race([w.expect(orderId), timeout]).finally(() => clearTimeout(timer))
  }

  async function one(origin: number): Promise<void> {
    const n = sent++
    const sku = config.skus[n % config.skus.length] ?? 'SKU-1'
    const lane = config.priority === undefined ? '' : `,"priority":"${config.priority}"`
    const body = `{"customerId":"bench-${n % 997}","items":[{"sku":"${sku}","quantity":1}],"paymentToken":"tok_ok"${lane}}`
    const headers: Record<string, string> = config.idempotencyKeys
      ? { Authorization: config.authorization, 'Idempotency-Key': `bench-${runId}-${n}` }
      : { Authorization: config.authorization }
    try {
      const res = await driver.post(body, headers, watcher !== undefined)
      const answeredAt = performance.now()
      statuses[res.status] = (statuses[res.status] ?? 0) + 1
      const ok = res.status >= 200 && res.status < 300
      if (ok && inWindow(answeredAt)) okInWindow++
      if (inWindow(origin)) httpLatencies.push(answeredAt - origin)
      if (!ok || watcher === undefined) return
      const { orderId } = JSON.parse(res.body) as { orderId: string }
      const settled = await settle(watcher, orderId)
      if (settled === 'timeout') {
        unsettled++
        if (inWindow(origin)) confirmLatencies.push(performance.now() - origin)
        return
      }
      if (settled.status === 'cancelled') cancelled++
      else if (inWindow(settled.at)) confirmedInWindow++
      if (inWindow(origin)) confirmLatencies.push(settled.at - origin)
    } catch (error) {
      errors++
      firstError ??= error instanceof Error ? error.message : String(error)
    }
  }

  if (config.mode === 'closed') await runClosed(config.concurrency, t0, windowEnd, one)
  else await runOpen(config.rate, t0, windowEnd, one, lags)

  await watcher?.close()
  driver.close()
  const seconds = config.durationMs / 1000
  return {
    mode: config.mode,
    windowMs: config.durationMs,
    sent,
    statuses,
    errors,
    ...(firstError !== undefined ? { firstError } : {}),
    httpPerSec: okInWindow / seconds,
    http: summarizeLatencies(httpLatencies),
    ...(config.mode === 'open' ? { scheduleLag: summarizeLatencies(lags) } : {}),
    ...(watcher !== undefined
      ? {
          confirmedPerSec: confirmedInWindow / seconds,
          confirm: summarizeLatencies(confirmLatencies),
          cancelled,
          unsettled,
        }
      : {}),
  }
}

async function runClosed(
  users: number,
  t0: number,
  end: number,
  one: (origin: number) => Promise<void>,
): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 - performance.now())))
  const user = async (): Promise<void> => {
    while (performance.now() < end) await one(performance.now())
  }
  await Promise.all(Array.from({ length: users }, user))
}

async function runOpen(
  rate: number,
  t0: number,
  end: number,
  one: (origin: number) => Promise<void>,
  lags: number[],
): Promise<void> {
  const interval = 1000 / rate
  const total = Math.floor((end - t0) / interval)
  const pending: Promise<void>[] = []
  let i = 0
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now()
      while (i < total && t0 + i * interval <= now) {
        const intended = t0 + i * interval
        lags.push(now - intended)
        pending.push(one(intended))
        i++
      }
      if (i >= total) return resolve()
      setTimeout(tick, Math.max(0, Math.min(1, t0 + i * interval - now)))
    }
    tick()
  })
  await Promise.all(pending)
}

const arg = process.argv[2]
if (arg !== undefined) {
  generate(JSON.parse(arg) as GeneratorConfig).then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (error: unknown) => {
      process.stderr.write(
        `generator failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      )
      process.exit(1)
    },
  )
}
