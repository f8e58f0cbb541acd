/**
 * The order intake's HTTP path alone: POST /orders through `createApp` with a
 * store that answers at once (no NATS), this tree against another one
 * (`--base`, e.g. a `git worktree` of the revision before a change), run
 * after run in one process each. What bench/probes/intake-cpu.ts measures
 * with a real service and nats-server, less their noise: it found an `async`
 * middleware costing every POST ~9 µs (docs/performance.md).
 *
 *   bun bench/probes/intake-app.ts [--base <tree>] [--posts 20000] [--rounds 6]
 *
 * Prints µs per POST for each round of each tree (a process each, its first
 * pass of `--posts` a warm-up, the trees' order alternating), and the
 * medians. Both trees import their own workers/order/app.ts and its
 * dependencies.
 */
import { spawnSync } from 'node:child_process'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
// The types only: each tree's own modules are imported at run time.
import type * as Fixture from '../../shared/http/api-keys-fixture.ts'
import type * as RateLimit from '../../shared/http/rate-limit.ts'
import type * as Logger from '../../shared/observability/logger.ts'
import type * as Metrics from '../../shared/observability/metrics.ts'
import type * as App from '../../workers/order/app.ts'

const { values } = parseArgs({
  options: {
    base: { type: 'string' },
    posts: { type: 'string', default: '20000' },
    rounds: { type: 'string', default: '6' },
    /** Internal: measure the tree at this path and print one number per round. */
    'measure-tree': { type: 'string' },
  },
})
const posts = Number(values.posts)
const rounds = Number(values.rounds)

interface AppModules {
  fixture: typeof Fixture
  rateLimit: typeof RateLimit
  logger: typeof Logger
  metrics: typeof Metrics
  app: typeof App
}

async function measure(tree: string): Promise<void> {
  const load = async <K extends keyof AppModules>(path: string): Promise<AppModules[K]> =>
    (await import(join(tree, path))) as AppModules[K]
  const { bearer, createTestVerifier } = await load<'fixture'>('shared/http/api-keys-fixture.ts')
  const { createRateLimiter } = await load<'rateLimit'>('shared/http/rate-limit.ts')
  const { createLogger } = await load<'logger'>('shared/observability/logger.ts')
  const { createMetrics } = await load<'metrics'>('shared/observability/metrics.ts')
  const { createApp } = await load<'app'>('workers/order/app.ts')
  const app = createApp({
    store: {
      placeOrder: (input) =>
        Promise.resolve({
          kind: 'accepted',
          orderId: '0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f',
          correlationId: input.correlationId,
          replayed: false,
          status: 'pending',
        }),
      getOrder: () => Promise.resolve(null),
      requestCancellation: () => Promise.resolve(),
    },
    logger: createLogger({ service: 'order', level: 'silent' }),
    metrics: createMetrics('order'),
    checkReady: () => Promise.resolve({ ok: true }),
    verifier: await createTestVerifier(),
    limiter: createRateLimiter({ perSecond: 1e9, burst: 1e9 }),
  })
  const body = JSON.stringify({
    customerId: 'customer-1234',
    items: [
      { sku: 'MUG-002', quantity: 2 },
      { sku: 'BOOK-001', quantity: 1 },
    ],
    paymentToken: 'tok_ok',
  })
  const headers = { 'Content-Type': 'application/json', ...bearer('alice') }
  for (let round = 0; round < rounds; round++) {
    const started = performance.now()
    for (let i = 0; i < posts; i++) {
      const res = await app.request('/orders', { method: 'POST', body, headers })
      if (res.status !== 202) throw new Error(`POST /orders answered ${res.status}: ${await res.text()}`)
    }
    console.log(((performance.now() - started) * 1000) / posts)
  }
}

if (values['measure-tree'] !== undefined) {
  await measure(values['measure-tree'])
} else {
  const here = resolve(import.meta.dirname, '..', '..')
  const trees = [
    ...(values.base === undefined ? [] : [['base', resolve(values.base)] as const]),
    ['this', here] as const,
  ]
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
  const results = new Map<string, number[]>(trees.map(([name]) => [name, []]))
  // Round by round, the trees' order alternating (this host's speed drifts
  // within minutes); a process per run, its first pass a warm-up.
  for (let round = 0; round < rounds; round++) {
    for (const [name, tree] of round % 2 === 0 ? trees : [...trees].reverse()) {
      const run = spawnSync(
        process.execPath,
        [import.meta.filename, '--measure-tree', tree, '--posts', String(posts), '--rounds', '2'],
        { encoding: 'utf8', timeout: 600_000 },
      )
      if (run.status !== 0) throw new Error(`${name}: ${run.stderr}`)
      const us = Number(run.stdout.trim().split('\n').at(-1))
      results.get(name)?.push(us)
      console.log(`round ${round + 1} ${name}: ${us.toFixed(1)} µs per POST`)
    }
  }
  for (const [name, tree] of trees)
    console.log(`median ${name} (${tree}): ${median(results.get(name) ?? []).toFixed(1)} µs per POST`)
}
