// What connecting per request costs the edge intake, measured locally:
//   bun bench/edge/connection-cost.ts [--requests 500] [--concurrency 20]
// Targets, all over HTTP from the same client: the Worker (workerd via
// Miniflare) connecting per request; the same app in a Durable Object holding
// one connection; and the Bun order process (persistent TCP connection).
// Prints latency percentiles and throughput per target. Security as deployed:
// the server requires NKEYs (fresh test secrets unless run under vitest), the
// provision step makes the topology, POSTs carry the client API key, and the
// per-key rate limit is raised (one key sends every request).
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Miniflare } from 'miniflare'
import { projectRoot } from '../../scripts/nats-server-bin.ts'
import { startNatsServer } from '../../test/harness/nats-server.ts'
import { createTestSecrets, TEST_SECRETS_ENV, workerSecrets } from '../../test/harness/test-secrets.ts'
import { bearer, provisionNats } from '../../test/support/provision.ts'
import { startWorker } from '../../test/support/saga-stack.ts'
import { runBunScript, scratchDir } from '../../test/runtimes/commands.ts'
import { COMPATIBILITY_DATE } from '../../test/runtimes/edge.ts'
import { BENCH_RATE_LIMIT } from '../lib/security.ts'

const { values } = parseArgs({
  options: { requests: { type: 'string', default: '500' }, concurrency: { type: 'string', default: '20' } },
})
const REQUESTS = Number(values.requests)
const CONCURRENCY = Number(values.concurrency)

const order = JSON.stringify({
  customerId: 'bench',
  items: [{ sku: 'BENCH-1', quantity: 1 }],
  paymentToken: 'tok_ok',
})
const removeSecrets = process.env[TEST_SECRETS_ENV] ? undefined : await createTestSecrets()
const post = {
  method: 'POST',
  headers: { 'Content-Type': 'application/json', ...bearer('client') },
  body: order,
}
const rateLimit = { RATE_LIMIT_PER_SECOND: BENCH_RATE_LIMIT, RATE_LIMIT_BURST: BENCH_RATE_LIMIT }

async function timeOne(url: string, init: RequestInit, expect: number): Promise<number> {
  const started = performance.now()
  const res = await fetch(url, init)
  await res.arrayBuffer()
  if (res.status !== expect)
    throw new Error(`${init.method ?? 'GET'} ${url}: ${res.status}, expected ${expect}`)
  return performance.now() - started
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

async function measure(name: string, url: string, init: RequestInit, expect: number): Promise<void> {
  for (let i = 0; i < 30; i++) await timeOne(url, init, expect)
  const sequential: number[] = []
  for (let i = 0; i < REQUESTS; i++) sequential.push(await timeOne(url, init, expect))
  sequential.sort((a, b) => a - b)
  const started = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < REQUESTS) await timeOne(url, init, expect)
    }),
  )
  const rps = REQUESTS / ((performance.now() - started) / 1000)
  const ms = (v: number): string => v.toFixed(2).padStart(7)
  console.log(
    `${name.padEnd(44)} p50 ${ms(percentile(sequential, 50))}  p90 ${ms(percentile(sequential, 90))}  p99 ${ms(percentile(sequential, 99))} ms   ${rps.toFixed(0).padStart(5)} req/s at c=${CONCURRENCY}`,
  )
}

async function miniflare(
  options: ConstructorParameters<typeof Miniflare>[0],
): Promise<{ url: string; dispose: () => Promise<void> }> {
  const mf = new Miniflare({ ...options, host: '127.0.0.1', port: 0 })
  const url = await mf.ready
  return { url: url.origin, dispose: () => mf.dispose() }
}

const server = await startNatsServer()
const dist = await scratchDir('bench-edge')
const cleanup: (() => Promise<unknown>)[] = [
  () => dist.remove(),
  () => server.dispose(),
  async () => removeSecrets?.(),
]
try {
  const wsUrl = server.wsUrl ?? ''
  await provisionNats([server.url])
  const bun = await startWorker('order', { NATS_URL: server.url, ORDER_PROJECTION: 'off', ...rateLimit })
  cleanup.unshift(() => bun.handle.stop())
  await runBunScript('build-edge.ts', ['--outdir', dist.path])
  const durable = await Bun.build({
    entrypoints: [join(import.meta.dirname, 'durable-intake.ts')],
    outdir: dist.path,
    target: 'browser',
    format: 'esm',
    minify: true,
  })
  if (!durable.success) throw new AggregateError(durable.logs, 'durable-intake build failed')
  const bindings = {
    ...(await workerSecrets('order-edge')),
    ...rateLimit,
    NATS_URL: wsUrl,
    LOG_LEVEL: 'warn',
  }
  const common = {
    modules: true,
    modulesRoot: dist.path,
    compatibilityDate: COMPATIBILITY_DATE,
    bindings,
    cf: false,
  }
  const perRequest = await miniflare({ ...common, scriptPath: join(dist.path, 'edge.js') })
  cleanup.unshift(perRequest.dispose)
  const inObject = await miniflare({
    ...common,
    scriptPath: join(dist.path, 'durable-intake.js'),
    durableObjects: { INTAKE: 'OrderIntake' },
  })
  cleanup.unshift(inObject.dispose)

  console.log(
    `${REQUESTS} sequential requests (after 30 warm-up) and ${REQUESTS} at concurrency ${CONCURRENCY}; project ${projectRoot}`,
  )
  await measure('Worker, no NATS (GET /health)', `${perRequest.url}/health`, {}, 200)
  await measure('Worker, connect + close (GET /ready)', `${perRequest.url}/ready`, {}, 200)
  await measure('Worker, connect per request (POST /orders)', `${perRequest.url}/orders`, post, 202)
  await measure('Durable Object, one connection (POST /orders)', `${inObject.url}/orders`, post, 202)
  await measure('Bun process, TCP connection (POST /orders)', `${bun.url}/orders`, post, 202)
} finally {
  for (const step of cleanup) await step().catch((error: unknown) => console.error(error))
}
