/** Test fixture: the app on fake deps, with its log lines captured. Used only by tests. */
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import { createApp, type GatewayDeps } from './app.ts'
import type { Journal } from './journal.ts'

export const created = '2030-01-02T03:04:05.000Z'
export const SECRET_KEY = 'gw_sk_test_0123456789'
/** The header every charge route wants. */
export const authorized = { Authorization: `Bearer ${SECRET_KEY}` }

export interface FixtureOptions {
  config?: Partial<GatewayDeps['config']>
  random?: () => number
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
  newChargeId?: () => string
  shutdownSignal?: AbortSignal
  journal?: Journal
}

export function createTestApp({ config, ...deps }: FixtureOptions = {}) {
  const lines: string[] = []
  const logger = createLogger({
    service: 'gateway',
    level: 'info',
    destination: { write: (line) => lines.push(line) },
  })
  let nextId = 0
  let nextRefundId = 0
  const app = createApp({
    config: {
      failureRate: 0,
      slowRate: 0,
      dropRate: 0,
      errorAfterChargeRate: 0,
      latencyMs: 0,
      slowMs: 10_000,
      flakyFailures: 2,
      secretKey: SECRET_KEY,
      maxBodyBytes: 16 * 1024,
      rateLimitPerSecond: 100,
      rateLimitBurst: 200,
      ...config,
    },
    logger,
    metrics: createMetrics('gateway'),
    random: () => 0.999,
    sleep: () => Promise.reject(new Error('unexpected sleep')),
    now: () => new Date(created),
    newChargeId: () => `ch_${++nextId}`,
    newRefundId: () => `re_${++nextRefundId}`,
    ...deps,
  })

  const charge = (key: string | undefined, body: unknown, init: RequestInit = {}) =>
    app.request('/charges', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...authorized,
        ...(key === undefined ? {} : { 'Idempotency-Key': key }),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      ...init,
    })
  const listCharges = async (orderId?: string) => {
    const response = await app.request(orderId === undefined ? '/charges' : `/charges?orderId=${orderId}`, {
      headers: authorized,
    })
    return (await response.json()) as unknown
  }
  const refund = (key: string | undefined, body: unknown) =>
    app.request('/refunds', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        ...authorized,
        ...(key === undefined ? {} : { 'Idempotency-Key': key }),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
  /** GET `path` with the key: [status, JSON body]. */
  const read = async (path: string): Promise<[number, unknown]> => {
    const response = await app.request(path, { headers: authorized })
    return [response.status, (await response.json()) as unknown]
  }
  const logs = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  return { app, charge, refund, read, listCharges, logs, lines }
}

export function chargeBody(overrides: Record<string, unknown> = {}) {
  return { amountCents: 1999, currency: 'EUR', token: 'tok_ok', orderId: 'order-1', ...overrides }
}

/** A charge as every route shows it, with its refunds (none by default). */
export function chargeView(overrides: Record<string, unknown> = {}) {
  return {
    id: 'ch_1',
    status: 'succeeded',
    amountCents: 1999,
    currency: 'EUR',
    orderId: 'order-1',
    created,
    amountRefundedCents: 0,
    refunds: [],
    ...overrides,
  }
}

/** A journal in memory that keeps what it was given and replays `stored`. */
export function createMemoryJournal(stored: readonly Parameters<Journal['append']>[0][] = []) {
  const appended: Parameters<Journal['append']>[0][] = []
  let failure: Error | undefined
  const journal: Journal = {
    replay: (apply) => stored.forEach(apply),
    append: (fact) => {
      if (failure) throw failure
      appended.push(fact)
    },
    close: () => undefined,
  }
  return { journal, appended, failWith: (error: Error | undefined) => (failure = error) }
}

/** A sleep that waits until the test lets it go, or until the signal aborts. */
export function createGate() {
  const calls: number[] = []
  let open: () => void = () => undefined
  const opened = new Promise<void>((resolve) => (open = resolve))
  const sleep = (ms: number, signal: AbortSignal) => {
    calls.push(ms)
    return new Promise<void>((resolve, reject) => {
      signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true })
      void opened.then(resolve)
    })
  }
  return { sleep, calls, open: () => open() }
}
