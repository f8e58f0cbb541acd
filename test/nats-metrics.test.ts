// The NATS metrics bridge against a real nats-server's monitoring endpoint
// (and one that does not answer), in process: no socket for the bridge.
import { jetstream } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STREAMS, SUBJECTS } from '../schemas/subjects.ts'
import { VERSION } from '../shared/http/service-index.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { createNatsMetricsApp, NATS_METRICS_FRESH_MS } from '../workers/nats-metrics/service.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'
import { freePort } from './harness/wait-for.ts'
import { provisionNats } from './support/provision.ts'

let server: NatsServerHandle

beforeAll(async () => {
  server = await startNatsServer({ monitor: true, websocket: false })
  await provisionNats([server.url])
})
afterAll(() => server?.dispose())

const logger = createLogger({
  service: 'nats-metrics',
  level: 'silent',
  destination: { write: () => undefined },
})

describe('nats-metrics', () => {
  it("answers every server's connections, streams and saga consumers in Prometheus text, and a silent server as down", async () => {
    const nc = await connect(server.connectOptions())
    await jetstream(nc).publish(SUBJECTS.orderCreated, '{}', { msgID: 'nats-metrics-1' })
    const silent = `http://127.0.0.1:${await freePort()}`
    const app = createNatsMetricsApp(
      { NATS_MONITOR_URLS: [server.monitorUrl ?? '', silent], NATS_MONITOR_TIMEOUT_MS: 2_000 },
      { logger },
    )
    const res = await app.request('/metrics')
    await nc.close()
    expect(res.status).toBe(200)
    expect(res.headers.get('Content-Type')).toMatch(/^text\/plain; version=0\.0\.4/)
    const text = await res.text()
    const lines = text.split('\n')
    const value = (prefix: string) =>
      Number(
        lines
          .find((l) => l.startsWith(prefix))
          ?.split(' ')
          .at(-1),
      )
    expect(value('nats_server_up{server_name="')).toBe(1)
    expect(lines).toContain(`nats_server_up{server_name="${silent}",url="${silent}"} 0`)
    expect(value('gnatsd_varz_connections{')).toBeGreaterThanOrEqual(1)
    expect(value('gnatsd_varz_in_msgs{')).toBeGreaterThan(0)
    expect(text).toMatch(/^nats_server_info\{server_name="[^"]+",version="2\.\d+\.\d+"\} 1$/m)
    const orders = `stream_name="${STREAMS.orders.name}"`
    const streamLine = lines.find(
      (l) => l.startsWith('jetstream_stream_total_messages') && l.includes(orders),
    )
    expect(Number(streamLine?.split(' ').at(-1))).toBeGreaterThanOrEqual(1)
    const pending = lines.find(
      (l) =>
        l.startsWith('jetstream_consumer_num_pending') &&
        l.includes(orders) &&
        l.includes('consumer_name="inventory"'),
    )
    expect(Number(pending?.split(' ').at(-1))).toBeGreaterThanOrEqual(1)
    // Every family is announced once with its type.
    expect(text.match(/^# TYPE gnatsd_varz_in_msgs counter$/gm)).toHaveLength(1)
  })
})

describe('nats-metrics and monitoring URLs with a password', () => {
  it('shows neither user nor password in its metrics, its index or its log', async () => {
    const lines: string[] = []
    const spy = createLogger({
      service: 'nats-metrics',
      level: 'warn',
      destination: { write: (line: string) => void lines.push(line) },
    })
    const silent = `http://mon:S3cretMonitorPw@127.0.0.1:${await freePort()}`
    const app = createNatsMetricsApp(
      { NATS_MONITOR_URLS: [silent], NATS_MONITOR_TIMEOUT_MS: 2_000 },
      { logger: spy },
    )
    const metrics = await (await app.request('/metrics')).text()
    const index = await (await app.request('/')).text()
    expect(metrics).toContain('url="http://***@127.0.0.1:')
    expect(lines.length).toBeGreaterThan(0)
    for (const text of [metrics, index, ...lines]) {
      expect(text).not.toContain('S3cretMonitorPw')
      expect(text).not.toContain('mon:')
    }
  })
})

describe('nats-metrics, as every service answers', () => {
  it('indexes its routes and version at GET / and answers an unknown route with the shared JSON 404', async () => {
    const app = createNatsMetricsApp(
      { NATS_MONITOR_URLS: ['http://127.0.0.1:8222'], NATS_MONITOR_TIMEOUT_MS: 1_000 },
      { logger },
    )
    const index = await app.request('/')
    expect(index.status).toBe(200)
    expect(await index.json()).toStrictEqual({
      service: 'nats-metrics',
      version: VERSION,
      routes: ['GET /', 'GET /health', 'GET /ready', 'GET /metrics'],
      servers: ['http://127.0.0.1:8222'],
    })
    const missing = await app.request('/nope')
    expect(missing.status).toBe(404)
    expect(await missing.json()).toStrictEqual({ error: 'not_found', message: 'no route GET /nope' })
  })
})

describe('nats-metrics under a flood of scrapes', () => {
  it('asks each server once for scrapes that come together, and again once its answer is a second old', async () => {
    const asked: string[] = []
    const counting = ((input: string | URL | Request, init?: RequestInit) => {
      asked.push(input instanceof Request ? input.url : input.toString())
      return fetch(input, init)
    }) as typeof fetch
    const app = createNatsMetricsApp(
      { NATS_MONITOR_URLS: [server.monitorUrl ?? ''], NATS_MONITOR_TIMEOUT_MS: 2_000 },
      { logger, fetch: counting },
    )
    const bodies = await Promise.all(
      Array.from({ length: 40 }, async () => await (await app.request('/metrics')).text()),
    )
    expect(asked.filter((url) => url.includes('/jsz'))).toHaveLength(1)
    expect(new Set(bodies).size).toBe(1)
    expect(bodies[0]).toContain('nats_server_up')
    await new Promise((resolve) => setTimeout(resolve, NATS_METRICS_FRESH_MS + 50))
    await app.request('/metrics')
    expect(asked.filter((url) => url.includes('/jsz'))).toHaveLength(2)
  })
})
