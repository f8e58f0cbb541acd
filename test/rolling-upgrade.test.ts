// A rolling upgrade across the OrderCreated v2 change, with the workers of
// the previous release (test/upgrade/previous-release.json: its commit,
// checked out from git) running beside this one's against one stream:
//   1. old intake (publishes v1 only) + new inventory and payment;
//   2. new intake (dual publishing v1 + v2) + old inventory and payment;
//   3. everything new, v1 no longer published.
// After each phase every order is final, stock and money balance, and
// nothing was dead-lettered.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STREAMS, SUBJECTS } from '../schemas/subjects.ts'
import { BINARIES, type BinaryName } from '../scripts/build.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'
import { testSecrets } from './harness/test-secrets.ts'
import { waitFor } from './harness/wait-for.ts'
import { expectMoneyBalanced, type MoneyOrder } from './support/money.ts'
import { bearer, provisionNats } from './support/provision.ts'
import { BUN, startWorker, type Command, type ServiceProcess } from './support/worker-process.ts'

const ROOT = join(import.meta.dirname, '..')
const PREVIOUS = JSON.parse(readFileSync(join(ROOT, 'test/upgrade/previous-release.json'), 'utf8')) as {
  commit: string
}

let server: NatsServerHandle
let oldTree: string
let gateway: ServiceProcess
const placed = new Set<string>()
const running: ServiceProcess[] = []

/** The previous release's workers: its files from git, this checkout's dependencies. */
const oldRelease: Command = (worker) => ({
  cmd: BUN,
  args: ['run', join(oldTree, BINARIES[worker as BinaryName] ?? `workers/${worker}/main.ts`)],
})

beforeAll(async () => {
  oldTree = mkdtempSync(join(tmpdir(), 'previous-release-'))
  const archive = execFileSync('git', ['-C', ROOT, 'archive', PREVIOUS.commit], {
    maxBuffer: 256 * 1024 * 1024,
  })
  execFileSync('tar', ['-x', '-C', oldTree], { input: archive })
  symlinkSync(join(ROOT, 'node_modules'), join(oldTree, 'node_modules'), 'dir')
  server = await startNatsServer()
  // An upgrade starts from what the previous release provisioned (its ORDERS
  // still allows message schedules: nats-server never turns them off), then
  // runs the new release's provision step before any new worker.
  execFileSync(BUN, ['run', join(oldTree, 'workers/provision/main.ts')], {
    env: {
      ...process.env,
      LOG_LEVEL: 'warn',
      NATS_URL: server.url,
      NATS_CONNECT_TIMEOUT_MS: '30000',
      NATS_NKEY_SEED: testSecrets().nats.admin.seed,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 60_000,
  })
  await provisionNats([server.url])
  gateway = await startWorker('gateway', {})
}, 120_000)

afterAll(async () => {
  await Promise.allSettled([...running, gateway].map((p) => p?.handle.stop(5_000)))
  await server?.dispose()
  if (oldTree) rmSync(oldTree, { recursive: true, force: true })
})

interface Phase {
  intake: 'old' | 'new'
  /** `both`: an instance of each release per worker, sharing its durable consumers (a rolling deploy). */
  workers: 'old' | 'new' | 'both'
  env?: Record<string, string>
}

async function startPhase({ intake, workers, env = {} }: Phase) {
  const nats = { NATS_URL: server.url, NATS_CONNECT_TIMEOUT_MS: '10000', ...env }
  const start = async (worker: string, release: 'old' | 'new', extra: Record<string, string> = {}) => {
    const proc = await startWorker(worker, { ...nats, ...extra }, release === 'old' ? oldRelease : undefined)
    running.push(proc)
    return proc
  }
  const order = await start('order', intake)
  const payment = { PAYMENT_GATEWAY_URL: gateway.url, PAYMENT_TIMEOUT_MS: '1000' }
  const releases = workers === 'both' ? (['new', 'old'] as const) : [workers]
  const [inventory] = await Promise.all(releases.map((release) => start('inventory', release)))
  await Promise.all(releases.map((release) => start('payment', release, payment)))
  return { order, inventory: inventory as ServiceProcess }
}

async function stopPhase(): Promise<void> {
  await Promise.all(running.splice(0).map((p) => p.handle.stop(10_000)))
}

async function getOrder(url: string, orderId: string): Promise<MoneyOrder | null> {
  const res = await fetch(`${url}/orders/${orderId}`, { headers: bearer('client') })
  return res.status === 200 ? ((await res.json()) as MoneyOrder) : null
}

/**
 * Places orders (v1 bodies, and v2 bodies when the intake is new), waits for
 * every one to be final. `count` orders for 6 units, the last card declined.
 */
async function runOrders(
  order: ServiceProcess,
  inventory: ServiceProcess,
  sku: string,
  v2Bodies: boolean,
  count = 8,
) {
  const put = await fetch(`${inventory.url}/inventory/${sku}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json', ...bearer('admin') },
    body: JSON.stringify({ onHand: 6, priceCents: 400 }),
  })
  expect(put.status).toBe(201)
  const bodies = Array.from({ length: count }, (_, i) =>
    v2Bodies && i % 2 === 1
      ? {
          customer: { id: `c-${i}`, email: `c${i}@example.com` },
          currency: 'USD',
          items: [{ sku, quantity: 1, unitPriceCents: 400 }],
          paymentToken: i === count - 1 ? 'tok_declined' : 'tok_ok',
        }
      : {
          customerId: `c-${i}`,
          items: [{ sku, quantity: 1 }],
          paymentToken: i === count - 1 ? 'tok_declined' : 'tok_ok',
        },
  )
  const ids: string[] = []
  for (const body of bodies) {
    const res = await fetch(`${order.url}/orders`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...bearer('client') },
      body: JSON.stringify(body),
    })
    expect(res.status).toBe(202)
    const { orderId } = (await res.json()) as { orderId: string }
    placed.add(orderId)
    ids.push(orderId)
  }
  const finals = []
  for (const id of ids) {
    finals.push(
      await waitFor(
        async () => {
          const o = await getOrder(order.url, id)
          return o && (o.status === 'confirmed' || o.status === 'cancelled') ? o : undefined
        },
        { timeoutMs: 30_000, message: `order ${id} final` },
      ),
    )
  }
  // 6 units, one card declined: 6 sold, the rest cancelled (declined, out of stock).
  expect(finals.filter((o) => o.status === 'confirmed')).toHaveLength(6)
  expect(finals).toHaveLength(count)
  const stock = await waitFor(
    async () => {
      const res = await fetch(`${inventory.url}/inventory/${sku}`)
      const s = (await res.json()) as { onHand: number; reserved: number }
      return s.reserved === 0 ? s : undefined
    },
    { message: `${sku} holds settled` },
  )
  expect(stock.onHand).toBe(0)
  await expectMoneyBalanced({ gatewayUrl: gateway.url, getOrder: (id) => getOrder(order.url, id) }, placed)
}

async function deadLetters(): Promise<number> {
  const nc = await connect(server.connectOptions())
  try {
    return (await (await jetstreamManager(nc)).streams.info(STREAMS.deadLetters.name)).state.messages
  } finally {
    await nc.close()
  }
}

async function createdVersions(): Promise<Record<string, number>> {
  const nc = await connect(server.connectOptions())
  try {
    const jsm = await jetstreamManager(nc)
    const info = await jsm.streams.info(STREAMS.orders.name, { subjects_filter: SUBJECTS.orderCreated })
    const last = info.state.last_seq
    const counts: Record<string, number> = {}
    for (let seq = 1; seq <= last; seq++) {
      const msg = await jsm.streams.getMessage(STREAMS.orders.name, { seq }).catch(() => null)
      if (msg?.subject !== SUBJECTS.orderCreated) continue
      const version = msg.header.get('Event-Version')
      counts[version] = (counts[version] ?? 0) + 1
    }
    return counts
  } finally {
    await nc.close()
  }
}

/**
 * The previous release writes records without seals: the new services read
 * them while both run (RECORD_SEALS=tolerate, docs/security.md "Record seals").
 */
const TOLERATE = { RECORD_SEALS: 'tolerate' }

describe(`rolling upgrade from the previous release (${PREVIOUS.commit.slice(0, 8)})`, () => {
  it('old intake, new workers: v1 orders all final, balanced, nothing dead-lettered', async () => {
    const { order, inventory } = await startPhase({ intake: 'old', workers: 'new', env: TOLERATE })
    await runOrders(order, inventory, 'ROLL-1', false)
    await stopPhase()
    expect(await deadLetters()).toBe(0)
    expect(await createdVersions()).toStrictEqual({ '1': 8 })
  }, 120_000)

  it('new intake publishing v1 and v2, old workers: each order handled once, balanced, nothing dead-lettered', async () => {
    const { order, inventory } = await startPhase({
      intake: 'new',
      workers: 'old',
      env: { ...TOLERATE, ORDER_CREATED_VERSIONS: '1,2' },
    })
    await runOrders(order, inventory, 'ROLL-2', true)
    await stopPhase()
    expect(await deadLetters()).toBe(0)
    expect(await createdVersions()).toStrictEqual({ '1': 16, '2': 8 })
  }, 120_000)

  it('new intake publishing v1 and v2, old and new workers side by side on one consumer: every order handled, balanced', async () => {
    // Each order's two copies may go to different instances: an old one skips
    // the v2, a new one holds the v1 copy and handles it when its twin was
    // not handled (docs/contracts.md, step 3 of the runbook).
    // One message per pull, so the two copies of an order go to different instances.
    const { order, inventory } = await startPhase({
      intake: 'new',
      workers: 'both',
      env: { ...TOLERATE, ORDER_CREATED_VERSIONS: '1,2', CONSUMER_CONCURRENCY: '1' },
    })
    await runOrders(order, inventory, 'ROLL-MIXED', true, 16)
    await stopPhase()
    expect(await deadLetters()).toBe(0)
    expect(await createdVersions()).toStrictEqual({ '1': 32, '2': 24 })
  }, 150_000)

  it('all new, v1 no longer published: v2 only, balanced, nothing dead-lettered', async () => {
    // The last step of the upgrade to record seals: what the previous release
    // wrote so far is read as it is, anything unsealed after it refused.
    await provisionNats([server.url], { RECORD_SEAL_FLOOR: 'now' })
    const { order, inventory } = await startPhase({
      intake: 'new',
      workers: 'new',
      env: { ORDER_CREATED_VERSIONS: '2' },
    })
    await runOrders(order, inventory, 'ROLL-3', true)
    await stopPhase()
    expect(await deadLetters()).toBe(0)
    expect(await createdVersions()).toStrictEqual({ '1': 32, '2': 32 })
  }, 120_000)
})
