// A real nats-server with the saga streams, short consumer limits (ack wait
// 1 s, max deliver 2) and helpers to play a worker and its dead-letter capture.
import { randomUUID } from 'node:crypto'
import {
  jetstream,
  jetstreamManager,
  type Consumer,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream'
import { headers as createHeaders, type NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { HEADERS, STREAMS, SUBJECTS } from '../../schemas/subjects.ts'
import { startConsumer, type ConsumerOptions, type Handlers } from '../../shared/nats/consumer.ts'
import {
  advisoryStreamConfig,
  startDeadLetterCapture,
  type DeadLetterCapture,
} from '../../shared/nats/dead-letter-capture.ts'
import {
  DEFAULT_LIMITS,
  durableConsumerConfig,
  ensureConsumer,
  ensureStream,
  ensureStreams,
  type TopologyLimits,
} from '../../shared/nats/topology.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics, type Metrics } from '../../shared/observability/metrics.ts'
import { startNatsServer, type NatsServerHandle } from '../harness/nats-server.ts'

export const ORDERS = STREAMS.orders.name
export const DLQ = STREAMS.deadLetters.name
export const limits: TopologyLimits = { ...DEFAULT_LIMITS, ackWaitMs: 1_000, maxDeliver: 2 }
export const logger = createLogger({ service: 'dead-letters-test', level: 'silent' })

export function orderCreated(): {
  version: 1
  orderId: string
  occurredAt: string
  customerId: string
  items: { sku: string; quantity: number }[]
  sealedPaymentToken: string
} {
  return {
    version: 1,
    orderId: randomUUID(),
    occurredAt: new Date().toISOString(),
    customerId: 'c-dlq',
    items: [{ sku: 'SKU-1', quantity: 1 }],
    sealedPaymentToken: 'sealed.v1.test',
  }
}

export interface DeadLetterFixture extends AsyncDisposable {
  server: NatsServerHandle
  nc: NatsConnection
  js: JetStreamClient
  jsm: JetStreamManager
  metrics: Metrics
  /** Provisions `durable` on ORDERS (orders.> by default) like a worker does and returns it. */
  worker(durable: string, filterSubjects?: readonly string[]): Promise<Consumer>
  capture(durable: string, options?: { nakDelayMs?: (n: number) => number }): Promise<DeadLetterCapture>
  /** Publishes an event (orders.created by default) with a correlation id; resolves with its ORDERS sequence. */
  publishOrder(payload: unknown, correlationId: string, subject?: string): Promise<number>
  /** Dead letters stored in DLQ (all subjects). */
  dlqCount(): Promise<number>
  /** `messages_handled_total` of the capture of `durable` with `outcome`. */
  captured(durable: string, outcome: string): Promise<number>
}

export async function startDeadLetterFixture(
  options: { monitor?: boolean } = {},
): Promise<DeadLetterFixture> {
  // One test deletes the DLQ stream as admin: no API guard here.
  const server = await startNatsServer({
    websocket: false,
    apiGuard: false,
    monitor: options.monitor ?? false,
  })
  const nc = await connect({ ...server.connectOptions(), timeout: 5_000 })
  const jsm = await jetstreamManager(nc, { timeout: 2_000 })
  const js = jetstream(nc, { timeout: 2_000 })
  const metrics = createMetrics('dead-letters-test')
  const captures: DeadLetterCapture[] = []
  const dispose = async (): Promise<void> => {
    await Promise.allSettled(captures.map((c) => c.stop()))
    await nc.close()
    await server.dispose()
  }
  try {
    // What the provision step creates: the saga streams and the advisory stream.
    await ensureStreams(jsm, limits)
    await ensureStream(jsm, advisoryStreamConfig(limits))
  } catch (error) {
    await dispose()
    throw error
  }
  return {
    server,
    nc,
    js,
    jsm,
    metrics,
    async worker(durable, filterSubjects = ['orders.>']) {
      await ensureConsumer(jsm, ORDERS, durableConsumerConfig(durable, filterSubjects, limits))
      return await js.consumers.get(ORDERS, durable)
    },
    async capture(durable, options = {}) {
      const capture = await startDeadLetterCapture({
        js,
        jsm,
        logger,
        metrics,
        stream: ORDERS,
        durable,
        publishTimeoutMs: 2_000,
        pullExpiresMs: 1_000,
        ...options,
      })
      captures.push(capture)
      return capture
    },
    async publishOrder(payload, correlationId, subject = SUBJECTS.orderCreated) {
      const h = createHeaders()
      h.set(HEADERS.correlationId, correlationId)
      h.set(HEADERS.eventVersion, '1')
      const data = typeof payload === 'string' ? payload : JSON.stringify(payload)
      return (await js.publish(subject, data, { headers: h, msgID: `test:${randomUUID()}` })).seq
    },
    async dlqCount() {
      return (await jsm.streams.info(DLQ)).state.messages
    },
    async captured(durable, outcome) {
      const { values } = await metrics.messagesHandled.get()
      return values
        .filter((v) => v.labels.consumer === `dlq-capture-${durable}` && v.labels.outcome === outcome)
        .reduce((sum, v) => sum + v.value, 0)
    },
    [Symbol.asyncDispose]: dispose,
  }
}

/**
 * The consumer loop on `durable` (provisioned on ORDERS with `filters`), as a
 * worker runs it, with the fixture's limits; `options` overrides any setting.
 */
export async function startFixtureLoop(
  f: DeadLetterFixture,
  durable: string,
  filters: readonly string[],
  handlers: Handlers,
  options: Partial<ConsumerOptions> = {},
) {
  await f.worker(durable, filters)
  return startConsumer({
    js: f.js,
    logger,
    metrics: f.metrics,
    stream: ORDERS,
    durable,
    handlers,
    concurrency: 4,
    maxDeliver: limits.maxDeliver,
    ackWaitMs: limits.ackWaitMs,
    publishTimeoutMs: 2_000,
    ensureConsumer: () =>
      ensureConsumer(f.jsm, ORDERS, durableConsumerConfig(durable, filters, limits)).then(() => undefined),
    pullExpiresMs: 1_000,
    ...options,
  })
}
