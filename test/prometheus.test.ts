// What compose's observability profile does, without containers: a real
// Prometheus (Debian's; .ci/run installs it) scrapes every worker of a saga
// run and nats-metrics in front of the run's nats-server, and evaluates every
// query of the committed Grafana dashboard.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import dashboard from '../scripts/container/grafana/dashboards/order-saga.json' with { type: 'json' }
import { spawnService, type ServiceHandle } from './harness/process.ts'
import { freePort, waitFor } from './harness/wait-for.ts'
import { startSagaStack, type SagaStack } from './support/saga-stack.ts'
import { BUN } from './support/worker-process.ts'
import { itKeepsTheMoneyInvariant } from './support/money.ts'
import { prometheusAvailable, startPrometheus } from './support/prometheus.ts'

const suite = describe.skipIf(!prometheusAvailable())

interface QueryResult {
  status: string
  error?: string
  data?: { result: { metric: Record<string, string>; value: [number, string] }[] }
}

suite('Prometheus scraping the saga and NATS', () => {
  let stack: SagaStack
  let natsMetrics: ServiceHandle
  let prometheus: ServiceHandle
  let dir: string
  let url: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'prometheus-'))
    stack = await startSagaStack({ projection: 'own-service', natsMonitor: true })
    const natsMetricsPort = await freePort()
    natsMetrics = await spawnService({
      cmd: BUN,
      args: ['run', 'workers/nats-metrics/main.ts'],
      cwd: join(import.meta.dirname, '..'),
      env: {
        PORT: String(natsMetricsPort),
        HOST: '127.0.0.1',
        NATS_MONITOR_URLS: stack.server.monitorUrl ?? '',
      },
      readyLine: /nats-metrics listening/,
    })
    const target = (u: string) => new URL(u).host
    const workers = stack.started.map((p) => `'${target(p.url)}'`).join(', ')
    await writeFile(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s }',
        'scrape_configs:',
        `  - { job_name: order-saga, static_configs: [{ targets: [${workers}] }] }`,
        `  - { job_name: nats, static_configs: [{ targets: ['127.0.0.1:${natsMetricsPort}'] }] }`,
        '',
      ].join('\n'),
    )
    ;({ handle: prometheus, url } = await startPrometheus(dir))
  }, 120_000)

  afterAll(async () => {
    await prometheus?.stop(5_000)
    await natsMetrics?.stop(5_000)
    await stack?.dispose()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  async function query(expr: string): Promise<QueryResult> {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`)
    return (await res.json()) as QueryResult
  }
  const values = async (expr: string) =>
    ((await query(expr)).data?.result ?? []).map((r) => Number(r.value[1]))

  it('scrapes every worker and nats-metrics, and sees the saga and the server in them', async () => {
    const targets = stack.started.length + 1
    await waitFor(async () => (await values('up == 1')).length === targets, {
      timeoutMs: 20_000,
      message: `all ${targets} targets up`,
    })
    // Scraped at 0 before the order: increase() then sees the order.
    await waitFor(
      async () => (await values('orders_finalized_total{status="confirmed"} == 0')).length === 1,
      {
        timeoutMs: 20_000,
        message: 'the confirmed-orders series at 0',
      },
    )
    await stack.setStock('PROM-1', 10, 500)
    const placed = await stack.placeOrder({
      customerId: 'cust-prom',
      items: [{ sku: 'PROM-1', quantity: 1 }],
      paymentToken: 'tok_ok',
    })
    await stack.waitForFinal(placed.orderId)
    await waitFor(async () => (await values('sum(orders_finalized_total{status="confirmed"})'))[0] === 1, {
      timeoutMs: 20_000,
      message: 'the confirmed order in Prometheus',
    })
    expect(await values('nats_server_up')).toStrictEqual([1])
    // nats-metrics reads the server at each scrape: wait for one after the order.
    await waitFor(
      async () => ((await values('jetstream_stream_total_messages{stream_name="ORDERS"}'))[0] ?? 0) > 0,
      { timeoutMs: 20_000, message: 'the ORDERS stream with messages in Prometheus' },
    )
    expect((await values('max by (consumer) (consumer_pending_messages)')).length).toBeGreaterThanOrEqual(8)
  })

  it('evaluates every query of the Grafana dashboard without an error', async () => {
    const exprs = dashboard.panels.flatMap((p) => ('targets' in p ? p.targets.map((t) => t.expr) : []))
    expect(exprs.length).toBeGreaterThan(20)
    for (const expr of exprs) {
      const result = await query(expr)
      expect({ expr, status: result.status, error: result.error }).toStrictEqual({
        expr,
        status: 'success',
        error: undefined,
      })
    }
    // The panel an operator opens first counts the order (its series existed at 0 before it).
    await waitFor(
      async () =>
        ((await values('sum(increase(orders_finalized_total{status="confirmed"}[5m]))'))[0] ?? 0) > 0.5,
      { timeoutMs: 10_000, message: 'the confirmed order in increase()' },
    )
    expect((await values('gnatsd_varz_connections')).length).toBe(1)
  })

  itKeepsTheMoneyInvariant(() => stack)
})
