// The operator console's API on the real saga (every worker its own process,
// the console too): the order index pages and searches, a timeline has every
// event with its consumers, a failed delivery's retries and its dead letter,
// a dead letter is replayed and purged, the cancel action goes through the
// cancellation API, and the console's own NATS identity is enough for all of it.
import { Kvm } from '@nats-io/kv'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BUCKETS } from '../schemas/subjects.ts'
import { statusSubjectOf } from '../shared/nats/discovery-subjects.ts'
import { answerInbox } from '../shared/nats/replay-delegate.ts'
import { generateSealingKeyPair } from '../shared/security/sealed-token.ts'
import { permissionViolations } from './harness/lines.ts'
import { DEAD_LETTER_GAUGE_FRESH_MS } from '../workers/console/dead-letter-gauge.ts'
import { waitFor } from './harness/wait-for.ts'
import { bearer } from './support/provision.ts'
import {
  reviveWorker,
  startSagaStack,
  startWorker,
  type SagaStack,
  type ServiceProcess,
} from './support/saga-stack.ts'
import { itKeepsTheMoneyInvariant } from './support/money.ts'
import { v7 as uuidv7 } from 'uuid'

let stack: SagaStack
let consoleWorker: ServiceProcess
/** Workers a test started besides the stack's (a payment worker with another key, say). */
const extra: ServiceProcess[] = []

const order = (customerId: string, sku: string, paymentToken = 'tok_ok') => ({
  customerId,
  items: [{ sku, quantity: 1 }],
  paymentToken,
})

const RUNNING = new Set(['order-status', 'inventory', 'inventory-payments', 'payment'])

async function api<T>(path: string, init: RequestInit = {}, key: 'admin' | 'client' = 'admin') {
  const res = await fetch(`${consoleWorker.url}${path}`, {
    ...init,
    headers: { ...bearer(key), ...init.headers },
  })
  return { status: res.status, body: (await res.json()) as T }
}

interface Page {
  orders: { orderId: string; status: string; reason?: string; customerId?: string; priority?: string }[]
  next: string | null
}

beforeAll(async () => {
  stack = await startSagaStack({ workerEnv: { CONSUMER_MAX_DELIVER: '2' } })
  consoleWorker = await startWorker('console', {
    NATS_URL: stack.natsUrls.join(','),
    CONSOLE_ORDER_URL: stack.order.url,
    CONSOLE_PAYMENT_URL: stack.payment.url,
    CONSOLE_INDEX_DELAY_MS: '50',
    CONSUMER_MAX_DELIVER: '2',
  })
}, 90_000)

afterAll(async () => {
  await consoleWorker?.handle.stop(5_000)
  await Promise.allSettled(extra.map((w) => w.handle.stop(5_000)))
  await stack?.dispose()
})

describe('operator console API', () => {
  it('wants an admin key: 401 without one, 403 with a client key; the page itself holds no data', async () => {
    expect((await fetch(`${consoleWorker.url}/console/api/orders`)).status).toBe(401)
    expect((await api('/console/api/orders', {}, 'client')).status).toBe(403)
    const page = await fetch(`${consoleWorker.url}/console`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    const html = await page.text()
    expect(html).toContain('<label for="api-key">Admin API key</label>')
    // A form submitted before the script runs must not put the key in a URL.
    expect(html).toMatch(/<input id="api-key" type="password"/)
    expect(html).not.toMatch(/<input[^>]*\bname="api-key"/)
  })

  it('lists orders newest first, by status and by customer, a page at a time', async () => {
    await stack.setStock('CONSOLE-1', 100, 500)
    const placed: string[] = []
    for (let i = 0; i < 5; i++) placed.push((await stack.placeOrder(order('cust-page', 'CONSOLE-1'))).orderId)
    const declined = (await stack.placeOrder(order('cust-other', 'CONSOLE-1', 'tok_declined'))).orderId
    // An admin key may ask for the express lane: the list says which orders got it.
    const express = (
      await stack.placeOrder({ ...order('cust-express', 'CONSOLE-1'), priority: 'express' }, bearer('admin'))
    ).orderId
    // (Its record is the admin's: the list below waits for it.)
    for (const id of [...placed, declined]) await stack.waitForFinal(id)
    const all = await waitFor(async () => {
      const r = await api<Page>('/console/api/orders?limit=100')
      return r.body.orders.filter((o) => o.status === 'confirmed' || o.status === 'cancelled').length >= 7
        ? r
        : undefined
    })
    expect(all.body.orders.slice(0, 7).map((o) => o.orderId)).toStrictEqual([
      express,
      declined,
      ...placed.reverse(),
    ])
    expect(all.body.orders.slice(0, 7).map((o) => o.priority)).toStrictEqual([
      'express',
      ...Array<string>(6).fill('standard'),
    ])
    const byCustomer = await api<Page>('/console/api/orders?customer=cust-page&limit=2')
    expect(byCustomer.body.orders.map((o) => o.orderId)).toStrictEqual(placed.slice(0, 2))
    const second = await api<Page>(
      `/console/api/orders?customer=cust-page&limit=2&cursor=${byCustomer.body.next}`,
    )
    expect(second.body.orders.map((o) => o.orderId)).toStrictEqual(placed.slice(2, 4))
    const cancelled = await api<Page>('/console/api/orders?status=cancelled&reason=payment_declined')
    expect(cancelled.body.orders).toMatchObject([{ orderId: declined, customerId: 'cust-other' }])
    expect((await api('/console/api/orders?status=lost')).status).toBe(400)
  })

  it("shows an order's timeline: each event's message, publisher and consumers, and its compensations", async () => {
    await stack.setStock('CONSOLE-2', 10, 700)
    const { orderId } = await stack.placeOrder(order('cust-timeline', 'CONSOLE-2', 'tok_declined'))
    await stack.waitForFinal(orderId)
    const view = await waitFor(async () => {
      const r = await api<{
        timeline: {
          events: {
            event: string
            message: { seq: number } | null
            consumers: { consumer: string; state: string }[]
          }[]
        }
      }>(`/console/api/orders/${orderId}`)
      const events = r.body.timeline.events
      // The workers of this stack (analytics is provisioned but not running here: its consumer waits).
      const running = (c: { consumer: string }) => RUNNING.has(c.consumer)
      const settled = events.every((e) => e.consumers.filter(running).every((c) => c.state === 'acked'))
      return events.length >= 4 && settled ? r.body : undefined
    })
    const events = view.timeline.events
    expect(events.map((e) => e.event)).toStrictEqual([
      'orders.created',
      'inventory.reserved',
      'payments.failed',
      'inventory.released',
    ])
    expect(events.every((e) => e.message !== null)).toBe(true)
    expect(events[0]).toMatchObject({ message: { publisher: '/order-saga/order' } })
    expect(events[0]?.consumers.map((c) => c.consumer)).toContain('inventory')
    expect(events[3]).toMatchObject({ compensation: true })
    expect((await api(`/console/api/orders/${crypto.randomUUID()}`)).status).toBe(404)
  })

  it('answers 500 invalid_record, not a fault, for an order-status record that is not one', async () => {
    const nc = await connect(stack.server.connectOptions())
    try {
      const kv = await new Kvm(nc).open(BUCKETS.orderStatus)
      const noHistory = crypto.randomUUID()
      const notJson = crypto.randomUUID()
      await kv.put(noHistory, JSON.stringify({ orderId: noHistory, status: 'confirmed' }))
      await kv.put(notJson, 'not json')
      for (const orderId of [noHistory, notJson]) {
        const answer = await api<{ error: string; message: string }>(`/console/api/orders/${orderId}`)
        expect(answer.status, orderId).toBe(500)
        expect(answer.body.error, orderId).toBe('invalid_record')
        expect(answer.body.message, orderId).toContain(orderId)
      }
    } finally {
      await nc.close()
    }
    expect(consoleWorker.handle.lines().filter((l) => l.includes('unhandled'))).toStrictEqual([])
  })

  it("indexes no record that is not its key's order, nor a reason that is not one token", async () => {
    const nc = await connect(stack.server.connectOptions())
    // Time-ordered ids, as the intake mints them: the index files an order by its id's time.
    const [badId, dotted, misfiled, elsewhere, real] = Array.from({ length: 5 }, () => uuidv7())
    try {
      const kv = await new Kvm(nc).open(BUCKETS.orderStatus)
      const record = (orderId: string | undefined, extra: Record<string, unknown> = {}) =>
        JSON.stringify({ orderId, status: 'cancelled', customerId: 'cust-forged', ...extra })
      await kv.put(badId ?? '', record('x"]'))
      await kv.put(dotted ?? '', record(dotted, { reason: 'x.>' }))
      await kv.put(misfiled ?? '', record(elsewhere, { reason: 'out_of_stock' }))
      await kv.put(real ?? '', record(real, { reason: 'out_of_stock' }))
      // The customer's list holds the real order only, found by its customer.
      const listed = await waitFor(async () => {
        const r = await api<Page>('/console/api/orders?customer=cust-forged')
        return r.body.orders.length > 0 ? r.body.orders : undefined
      })
      expect(listed.map((o) => o.orderId)).toStrictEqual([real])
      const all = await api<Page>('/console/api/orders?limit=100')
      expect(all.body.orders.map((o) => o.orderId)).not.toContain('x"]')
      expect(all.body.orders.map((o) => o.orderId)).not.toContain(elsewhere)
      const refused = consoleWorker.handle
        .lines()
        .filter((l) => l.includes('unreadable order record; not indexed'))
        .join('\n')
      for (const key of [badId, dotted, misfiled]) expect(refused).toContain(`"orderId":"${key}"`)
    } finally {
      await nc.close()
    }
  })

  it("leaves every order's newest status in the index when a second console writes older records last", async () => {
    // The second console holds what it takes for 3 s; each console stopped in turn until its
    // waiting pull expires at the server (5 s), so the other takes what comes.
    const second = await startWorker('console', {
      NATS_URL: stack.natsUrls.join(','),
      CONSOLE_ORDER_URL: stack.order.url,
      CONSOLE_PAYMENT_URL: stack.payment.url,
      CONSOLE_INDEX_DELAY_MS: '3000',
    })
    extra.push(second)
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
    const PULL_EXPIRED_MS = 6_000
    const nc = await connect(stack.server.connectOptions())
    const orders = Array.from({ length: 50 }, () => uuidv7())
    const putAll = async (status: string) => {
      const kv = await new Kvm(nc).open(BUCKETS.orderStatus)
      await Promise.all(
        orders.map((orderId) => kv.put(orderId, JSON.stringify({ orderId, status, customerId: 'cust-two' }))),
      )
    }
    try {
      consoleWorker.handle.signal('SIGSTOP')
      await pause(PULL_EXPIRED_MS)
      await putAll('pending') // the second writes it (3 s later, at its next tick)
      await pause(5_000)
      await putAll('reserved') // the second holds it...
      await pause(200)
      second.handle.signal('SIGSTOP')
      await pause(PULL_EXPIRED_MS)
      consoleWorker.handle.signal('SIGCONT')
      await pause(500)
      await putAll('confirmed') // ...while the first writes this
      await pause(1_000)
    } finally {
      consoleWorker.handle.signal('SIGCONT')
      second.handle.signal('SIGCONT') // then the second writes what it held: older records
      await nc.close()
    }
    const listAll = async () => {
      const page = await api<Page>('/console/api/orders?customer=cust-two&limit=100')
      return page.body.orders
    }
    // Searched by status, an order is found under its newest status only.
    const stillPending = async () => {
      const page = await api<Page>('/console/api/orders?status=pending&limit=100')
      return page.body.orders.filter((o) => o.customerId === 'cust-two')
    }
    const listed = await waitFor(
      async () => {
        const all = await listAll()
        const done = all.length === orders.length && all.every((o) => o.status === 'confirmed')
        return done && (await stillPending()).length === 0 ? all : undefined
      },
      { timeoutMs: 15_000, message: 'every order listed once, confirmed' },
    ).catch(async (error: unknown) => {
      const all = await listAll()
      const stale = [...all.filter((o) => o.status !== 'confirmed'), ...(await stillPending())].map(
        (o) => `${o.orderId} ${o.status}`,
      )
      throw new Error(
        `${all.length} listed; not confirmed: ${stale.length} (${stale.slice(0, 3).join(', ')})`,
        {
          cause: error,
        },
      )
    })
    expect(new Set(listed.map((o) => o.orderId))).toStrictEqual(new Set(orders))
    await second.handle.stop(5_000)
  }, 60_000)

  it('files a failed delivery under its order: retries, the dead letter, then replay and purge', async () => {
    // The payment worker without the card-token key the intake seals for: retried, then dead-lettered.
    await stack.payment.handle.stop(5_000)
    const other = await generateSealingKeyPair()
    const wrongPayment = await startWorker('payment', {
      NATS_URL: stack.natsUrls.join(','),
      PAYMENT_GATEWAY_URL: stack.gateway.url,
      CONSUMER_MAX_DELIVER: '2',
      PAYMENT_TOKEN_PRIVATE_KEYS: JSON.stringify([other.privateJwk]),
    })
    await stack.setStock('CONSOLE-3', 10, 900)
    const { orderId } = await stack.placeOrder(order('cust-dlq', 'CONSOLE-3'))
    const dead = await waitFor(
      async () => {
        const r = await api<{
          timeline: {
            deadLetters: { id: number; consumer: string; present: boolean }[]
            events: { event: string; consumers: { consumer: string; retries: unknown[]; state: string }[] }[]
          }
        }>(`/console/api/orders/${orderId}`)
        const letter = r.body.timeline?.deadLetters.find((d) => d.consumer === 'payment')
        return letter === undefined ? undefined : { letter, timeline: r.body.timeline }
      },
      { timeoutMs: 30_000 },
    )
    const reserved = dead.timeline.events.find((e) => e.event === 'inventory.reserved')
    expect(reserved?.consumers.find((c) => c.consumer === 'payment')).toMatchObject({
      state: 'dead_lettered',
    })
    expect(reserved?.consumers.find((c) => c.consumer === 'payment')?.retries.length).toBeGreaterThanOrEqual(
      1,
    )
    const list = await api<{ deadLetters: { id: number }[] }>('/console/api/dead-letters')
    expect(list.body.deadLetters.map((d) => d.id)).toContain(dead.letter.id)
    // Stored under an id only the payment identity can make: nobody else can take it first.
    const detail = await api<{ headers: Record<string, string[]> }>(
      `/console/api/dead-letters/${dead.letter.id}`,
    )
    expect(detail.body.headers['Nats-Msg-Id']?.[0]).toMatch(/^dlq:ORDERS:\d+:payment:[0-9a-f]{24}$/)
    // What waits, by the consumer that gave up and why, on the console's /metrics.
    const waitingLine = new RegExp(
      `^dead_letters_waiting_by_consumer\\{[^}]*consumer="payment",reason="max_deliver_exhausted"[^}]*\\} (\\d+)$`,
      'm',
    )
    const waiting = async () =>
      Number(waitingLine.exec(await (await fetch(`${consoleWorker.url}/metrics`)).text())?.[1] ?? Number.NaN)
    expect(await waiting()).toBe(1)

    // The key in place again: the stack's own payment worker, on its port (the console reads its breaker there).
    await wrongPayment.handle.stop(5_000)
    await reviveWorker(stack.payment)
    const replay = await api<{ subject: string; duplicate: boolean }>(
      `/console/api/dead-letters/${dead.letter.id}/replay`,
      { method: 'POST' },
    )
    expect(replay).toMatchObject({ status: 200, body: { subject: 'inventory.reserved', duplicate: false } })
    expect((await stack.waitForFinal(orderId)).status).toBe('confirmed')
    const purged = await api<{ purged: number }>(`/console/api/dead-letters/${dead.letter.id}/purge`, {
      method: 'POST',
    })
    expect(purged.body.purged).toBe(1)
    expect((await api(`/console/api/dead-letters/${dead.letter.id}`)).status).toBe(404)
    // One listing of the queue answers the scrapes of the next 5 s.
    await waitFor(async () => (await waiting()) === 0, {
      timeoutMs: DEAD_LETTER_GAUGE_FRESH_MS + 5_000,
      message: 'the gauge at 0 once the dead letter is purged',
    })
    // Gone, or never there (past the last sequence): nothing purged, no error.
    for (const id of [dead.letter.id, dead.letter.id + 1_000]) {
      const again = await api<{ purged: number }>(`/console/api/dead-letters/${id}/purge`, { method: 'POST' })
      expect(again).toMatchObject({ status: 200, body: { id, purged: 0 } })
    }
  })

  it('cancels through the cancellation API with the operator key', async () => {
    const { orderId } = await stack.placeOrder(order('cust-cancel', 'CONSOLE-1'))
    await stack.waitForFinal(orderId)
    const answer = await api<{ cancellation?: string }>(`/console/api/orders/${orderId}/cancel`, {
      method: 'POST',
    })
    expect(answer).toMatchObject({ status: 202, body: { cancellation: 'requested' } })
    const cancelled = await waitFor(async () => {
      const view = await stack.getOrder(orderId)
      return view?.status === 'cancelled' ? view : undefined
    })
    expect(cancelled).toMatchObject({ reason: 'customer_request', refunds: [{ reason: 'customer_request' }] })
  })

  it('shows consumer lag, the breaker and stock, and the console used only its own rights', async () => {
    const consumers = await api<{ consumers: { name: string; pending: number }[] }>('/console/api/consumers')
    expect(consumers.body.consumers.map((c) => c.name)).toEqual(
      expect.arrayContaining(['order-status', 'inventory', 'payment', 'order-index']),
    )
    // Lag as counts: every order above is settled, so the saga's consumers hold nothing back.
    for (const consumer of consumers.body.consumers)
      expect(consumer.pending, consumer.name).toBeTypeOf('number')
    const lag = (name: string) => consumers.body.consumers.find((c) => c.name === name)?.pending
    expect(['order-status', 'inventory', 'payment'].map(lag)).toStrictEqual([0, 0, 0])
    const stock = await api<{ stock: { sku: string; onHand: number }[] }>('/console/api/stock')
    expect(stock.body.stock.find((s) => s.sku === 'CONSOLE-2')).toMatchObject({ onHand: 10 })
    // Read from the payment service's /metrics: `unknown` (also a 200) would mean it was not reached.
    const breaker = await api<{ state: string; paused: string[] }>('/console/api/breaker')
    expect([breaker.status, breaker.body]).toStrictEqual([200, { state: 'closed', paused: [] }])
    expect(permissionViolations(stack.server.log())).toStrictEqual([])
  })

  it("counts its own consumers' pending and ack-pending in /metrics and lists them on its status endpoint", async () => {
    const own = ['order-index', 'order-index-retries', 'order-index-dead-letters']
    const metrics = await (await fetch(`${consoleWorker.url}/metrics`)).text()
    for (const durable of own) {
      for (const gauge of ['consumer_pending_messages', 'consumer_ack_pending_messages'])
        expect(metrics, `${gauge} of ${durable}`).toMatch(
          new RegExp(`^${gauge}\\{consumer="${durable}",service="console"\\} \\d+$`, 'm'),
        )
    }
    const nc = await connect(stack.server.connectOptions())
    try {
      // Services answer admin on the answer part of its inbox (access.ts).
      const reply = await nc.request(statusSubjectOf('console'), new Uint8Array(), {
        timeout: 5_000,
        noMux: true,
        reply: answerInbox(nc),
      })
      expect(reply.json<{ consumers: string[] }>().consumers.sort()).toStrictEqual([...own].sort())
    } finally {
      await nc.close()
    }
    expect(permissionViolations(stack.server.log())).toStrictEqual([])
  })

  itKeepsTheMoneyInvariant(() => stack)
})
