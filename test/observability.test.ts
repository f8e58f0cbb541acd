// Discovery ($SRV) and business metrics on the real saga: every worker its own
// process with its own NATS identity, the projection as its own service.
import { jetstream } from '@nats-io/jetstream'
import { createInbox, headers, type Msg, type NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import pkg from '../package.json' with { type: 'json' }
import { SUBJECTS } from '../schemas/subjects.ts'
import { statusSubjectOf } from '../shared/nats/discovery-subjects.ts'
import { answerInbox } from '../shared/nats/replay-delegate.ts'
import { permissionViolations } from './harness/lines.ts'
import { waitFor } from './harness/wait-for.ts'
import { bearer } from './support/provision.ts'
import { startSagaStack, type SagaStack, type ServiceProcess } from './support/saga-stack.ts'
import { itKeepsTheMoneyInvariant } from './support/money.ts'

let stack: SagaStack
let nc: NatsConnection
let statusService: ServiceProcess

beforeAll(async () => {
  stack = await startSagaStack({ projection: 'own-service' })
  nc = await connect(stack.server.connectOptions())
  const found = stack.started.find((p) => p.worker === 'order-status')
  if (found === undefined) throw new Error('no order-status service')
  statusService = found
}, 90_000)

afterAll(async () => {
  await nc?.close().catch(() => undefined)
  await stack?.dispose()
})

const NATS_WORKERS = ['inventory', 'order', 'order-status', 'payment']
const decoder = new TextDecoder()

/** Sends a $SRV request with its own inbox and collects the answers until `enough` holds (bounded). */
async function ask(subject: string, enough: (answers: Record<string, unknown>[]) => boolean) {
  const inbox = createInbox()
  const answers: Record<string, unknown>[] = []
  const sub = nc.subscribe(inbox, {
    callback: (_err, msg: Msg) => {
      answers.push(JSON.parse(decoder.decode(msg.data)) as Record<string, unknown>)
    },
  })
  try {
    nc.publish(subject, new Uint8Array(), { reply: inbox })
    return await waitFor(() => enough(answers) && answers, {
      timeoutMs: 5_000,
      message: `answers to ${subject}`,
    })
  } finally {
    sub.unsubscribe()
  }
}

const names = (answers: Record<string, unknown>[]) => answers.map((a) => String(a['name'])).sort()

describe('discovery: the NATS services protocol', () => {
  it('answers $SRV.PING from every NATS worker with its name, id and version', async () => {
    const pings = await ask('$SRV.PING', (a) => a.length >= NATS_WORKERS.length)
    expect(names(pings)).toStrictEqual(NATS_WORKERS)
    for (const ping of pings)
      expect(ping).toMatchObject({
        type: 'io.nats.micro.v1.ping_response',
        version: pkg.version,
        id: expect.stringMatching(/^\w+$/),
        metadata: { project: 'order-saga' },
      })
  })

  it('describes its endpoints on $SRV.INFO.<name> and its consumers on $SRV.STATS.<name>', async () => {
    const [info] = await ask('$SRV.INFO.payment', (a) => a.length >= 1)
    expect(info).toMatchObject({
      type: 'io.nats.micro.v1.info_response',
      name: 'payment',
      endpoints: [{ name: 'status', subject: statusSubjectOf('payment'), queue_group: 'q' }],
    })
    const [stats] = await ask('$SRV.STATS.inventory', (a) => a.length >= 1)
    expect(stats).toMatchObject({ type: 'io.nats.micro.v1.stats_response', name: 'inventory' })
    const endpoints = (stats?.['endpoints'] ?? []) as { data?: { consumers?: string[] } }[]
    expect([...(endpoints[0]?.data?.consumers ?? [])].sort()).toStrictEqual([
      'inventory',
      'inventory-deadlines',
      'inventory-express',
      'inventory-payments',
      'inventory-payments-express',
    ])
  })

  it('answers its status endpoint with readiness and consumers', async () => {
    // Services answer admin on the answer part of its inbox (access.ts).
    const reply = await nc.request(statusSubjectOf('order-status'), new Uint8Array(), {
      timeout: 5_000,
      noMux: true,
      reply: answerInbox(nc),
    })
    expect(reply.json()).toStrictEqual({
      service: 'order-status',
      version: pkg.version,
      ready: true,
      consumers: ['order-status', 'order-status-express'],
    })
  })

  it('lets an identity answer for its own name only', async () => {
    const inventory = await connect(stack.server.connectOptions('inventory'))
    try {
      const denied = new Promise<string>((resolve) => {
        void (async () => {
          for await (const s of inventory.status()) if (s.type === 'error') resolve(String(s.error))
        })()
      })
      inventory.subscribe('$SRV.PING.payment')
      await inventory.flush()
      expect(await denied).toMatch(/permissions violation/i)
    } finally {
      await inventory.close()
    }
    // The workers themselves never hit a permission they lack.
    for (const p of stack.started)
      expect(permissionViolations(p.handle.lines().join('\n')), p.worker).toStrictEqual([])
  })
})

/**
 * The value of one series in Prometheus text, given as `name{a="x",b="y"}`
 * with its labels in any order (undefined when absent).
 */
function sample(text: string, series: string): number | undefined {
  const key = (s: string) => {
    const at = s.indexOf('{')
    if (at < 0) return s
    const labels = s.slice(at + 1, s.lastIndexOf('}')).split(/,(?=\w+=")/)
    return `${s.slice(0, at)}{${labels.sort().join(',')}}`
  }
  const wanted = key(series)
  const line = text.split('\n').find((l) => key(l.slice(0, l.lastIndexOf(' '))) === wanted)
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

const scrape = async (proc: ServiceProcess): Promise<string> => (await fetch(`${proc.url}/metrics`)).text()

describe('business metrics', () => {
  it('counts orders by final status and reason, saga durations, refunds and the projection lag', async () => {
    await stack.setStock('BM-1', 10, 300)
    await stack.setStock('BM-SHORT', 0, 300)
    const order = (sku: string, paymentToken = 'tok_ok') => ({
      customerId: 'cust-bm',
      items: [{ sku, quantity: 1 }],
      paymentToken,
    })
    const confirmed = await stack.placeOrder(order('BM-1'))
    const declined = await stack.placeOrder(order('BM-1', 'tok_declined'))
    const short = await stack.placeOrder(order('BM-SHORT'))
    const refunded = await stack.placeOrder(order('BM-1'))
    for (const placed of [confirmed, declined, short, refunded]) await stack.waitForFinal(placed.orderId)
    expect((await stack.cancelOrder(refunded.orderId)).status).toBe(202)
    await waitFor(async () => (await stack.getOrder(refunded.orderId))?.status === 'cancelled', {
      message: 'the paid order cancelled and refunded',
    })

    const text = await waitFor(
      async () => {
        const t = await scrape(statusService)
        return sample(t, 'order_refunds_total{reason="customer_request",service="order-status"}') === 1 && t
      },
      { message: 'the refund counted' },
    )
    const s = (series: string) => sample(text, series)
    console.log(
      text
        .split('\n')
        .filter((l) => /^(orders_|order_)/.test(l))
        .join('\n'),
    )
    expect(s('orders_finalized_total{status="confirmed",reason="none",service="order-status"}')).toBe(2)
    expect(
      s('orders_finalized_total{status="cancelled",reason="payment_declined",service="order-status"}'),
    ).toBe(1)
    expect(s('orders_finalized_total{status="cancelled",reason="out_of_stock",service="order-status"}')).toBe(
      1,
    )
    expect(
      s('orders_finalized_total{status="cancelled",reason="customer_request",service="order-status"}'),
    ).toBe(1)
    expect(s('order_refunded_cents_total{reason="customer_request",service="order-status"}')).toBe(300)
    expect(s('order_saga_duration_seconds_count{service="order-status",status="confirmed"}')).toBe(2)
    expect(s('order_saga_duration_seconds_count{service="order-status",status="cancelled"}')).toBe(3)
    // Every event of every order applied once: created, reserved, completed, refunded, ... (at least 12).
    expect(s('order_projection_lag_seconds_count{service="order-status"}')).toBeGreaterThanOrEqual(12)
    expect(
      s('message_lag_seconds_count{consumer="order-status",subject="orders.created",service="order-status"}'),
    ).toBe(4)
  })

  it('reports each consumer backlog and the dead letters waiting, by consumer and reason', async () => {
    const js = jetstream(nc)
    const h = headers()
    h.set('Event-Version', '1')
    await js.publish(SUBJECTS.orderCreated, 'not json', { msgID: 'bm-poison-1', headers: h })
    const inventory = stack.inventories[0] as ServiceProcess
    const text = await waitFor(
      async () => {
        const t = await scrape(inventory)
        const waiting = sample(t, 'dead_letters_waiting{subject="orders.created",service="inventory"}') ?? 0
        const counted = sample(
          t,
          'dead_letters_total{consumer="inventory",reason="malformed_json",service="inventory"}',
        )
        // The term that follows the stored dead letter reaches the server a moment later.
        const acking = sample(t, 'consumer_ack_pending_messages{consumer="inventory",service="inventory"}')
        return waiting >= 1 && counted === 1 && acking === 0 && t
      },
      { message: 'the dead letter waiting and its message terminated' },
    )
    // Both consumers of orders.created dead-letter it: inventory and the projection.
    expect(
      sample(text, 'dead_letters_total{consumer="inventory",reason="malformed_json",service="inventory"}'),
    ).toBe(1)
    // A reason never seen is a series at 0 from the start, so increase() sees its first dead letter.
    expect(
      sample(text, 'dead_letters_total{consumer="inventory",reason="schema_violation",service="inventory"}'),
    ).toBe(0)
    for (const consumer of [
      'inventory',
      'inventory-payments',
      'inventory-express',
      'inventory-payments-express',
      'inventory-deadlines',
    ]) {
      expect(
        sample(text, `consumer_pending_messages{consumer="${consumer}",service="inventory"}`),
        consumer,
      ).toBe(0)
      expect(
        sample(text, `consumer_ack_pending_messages{consumer="${consumer}",service="inventory"}`),
        consumer,
      ).toBe(0)
    }
    const payment = await scrape(stack.payment)
    expect(sample(payment, 'consumer_pending_messages{consumer="payment",service="payment"}')).toBe(0)
    expect(payment).not.toContain('consumer_pending_messages{consumer="inventory"')
  })
})

// Last: its order would count in the business metrics above.
describe('HEAD on the real HTTP servers (Bun)', () => {
  it("answers every service's GET routes' headers with the body's length, a date and the security headers, no body", async () => {
    await stack.setStock('HEAD-1', 3, 250)
    const placed = await stack.placeOrder({
      customerId: 'h',
      items: [{ sku: 'HEAD-1', quantity: 1 }],
      paymentToken: 'tok_ok',
    })
    const order = stack.started.find((p) => p.worker === 'order')?.url ?? ''
    const inventory = stack.started.find((p) => p.worker === 'inventory')?.url ?? ''
    const routes: [string, HeadersInit][] = [
      ...stack.started.flatMap((p): [string, HeadersInit][] => [
        [`${p.url}/`, {}],
        [`${p.url}/health`, {}],
      ]),
      [`${order}/orders/${placed.orderId}`, bearer('client')],
      [`${inventory}/inventory/HEAD-1`, {}],
      [`${order}/orders/00000000-0000-7000-8000-000000000000`, bearer('client')],
      // A 404 that echoes its path, and a 401.
      ...stack.started.map((p): [string, HeadersInit] => [`${p.url}/%3Csvg%20onload=alert(1)%3E`, {}]),
      [`${order}/orders/${placed.orderId}`, {}],
    ]
    for (const [url, headers] of routes) {
      const get = await fetch(url, { headers })
      const bytes = (await get.arrayBuffer()).byteLength
      // Never sniffed as HTML, no Referer, never framed (shared/http/security-headers.ts).
      expect([
        url,
        get.headers.get('X-Content-Type-Options'),
        get.headers.get('Referrer-Policy'),
        get.headers.get('X-Frame-Options'),
      ]).toStrictEqual([url, 'nosniff', 'no-referrer', 'DENY'])
      const head = await fetch(url, { method: 'HEAD', headers })
      expect([url, head.status, head.headers.get('Content-Length')]).toStrictEqual([
        url,
        get.status,
        String(bytes),
      ])
      expect([url, Number.isNaN(Date.parse(head.headers.get('Date') ?? ''))]).toStrictEqual([url, false])
      expect(await head.text()).toBe('')
    }
  })
})

itKeepsTheMoneyInvariant(() => stack)
