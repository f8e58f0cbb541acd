// What each NATS identity may not do, asked of a real nats-server running the
// authorization block generated from the access table. Each attack that
// worked before authentication (docs/security.md) is tried and must be refused.
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { headers, type NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { natsPublicKeys } from '../shared/security/deployment-secrets.ts'
import { renderAuthorization } from '../shared/security/nats-auth-config.ts'
import { BUCKETS, STREAMS, SUBJECTS, toDeadlineFiredSubject } from '../schemas/subjects.ts'
import { ADVISORY_STREAM, captureDurableName } from '../shared/nats/dead-letter-capture.ts'
import { ORDER_INDEX, ORDER_INDEX_CONSUMERS } from '../shared/nats/order-index.ts'
import { purgeDeadLetters } from '../shared/nats/dead-letter-admin.ts'
import { answerInbox } from '../shared/nats/replay-delegate.ts'
import { identityKey } from '../shared/nats/identity-key.ts'
import { publishEvent, toEvent, type IdTaken } from '../shared/nats/publish.ts'
import { GRANTS, SERVICE_IDENTITIES, type Grant, type ServiceIdentity } from '../shared/security/access.ts'
import { LANE_SIGNAL_SUBJECT } from '../shared/nats/lane-signals.ts'
import { reloadConfig, startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'
import { waitFor } from './harness/wait-for.ts'
import { permissionViolations } from './harness/lines.ts'
import { authAs, testSecrets } from './harness/test-secrets.ts'
import { KvRecordError } from '../shared/nats/kv-json.ts'
import {
  deriveRecordKey,
  RECORD_SEAL_HEADER,
  SEAL_FLOOR_METADATA,
  sealBucket,
  sealFloorOf,
} from '../shared/security/record-seal.ts'
import { provisionNats } from './support/provision.ts'
import { createAnalyticsStore } from '../workers/analytics/store.ts'
import { emptyWindow, windowKey } from '../workers/analytics/windows.ts'

let server: NatsServerHandle
const clients = new Map<ServiceIdentity, NatsConnection>()
const ALL_SUBJECTS = Object.values(SUBJECTS)
const ALL_BUCKETS = Object.values(BUCKETS)
const DENIED = /permissions violation/i

beforeAll(async () => {
  server = await startNatsServer({ websocket: false })
  await provisionNats([server.url])
  for (const identity of SERVICE_IDENTITIES) {
    clients.set(identity, await connect({ ...server.connectOptions(identity), timeout: 5_000 }))
  }
})

afterAll(async () => {
  await Promise.allSettled([...clients.values()].map((nc) => nc.close()))
  await server?.dispose()
})

function client(identity: ServiceIdentity): NatsConnection {
  const nc = clients.get(identity)
  if (nc === undefined) throw new Error(`no client for ${identity}`)
  return nc
}

/** Rejection message of a JetStream publish (undefined when it was stored). */
async function publishError(identity: ServiceIdentity, subject: string): Promise<string | undefined> {
  const js = jetstream(client(identity), { timeout: 2_000 })
  return js.publish(subject, '{"forged":true}').then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? `${error.message} ${String(error.cause)}` : String(error)),
  )
}

describe('NATS identities and permissions', () => {
  it('refuses an anonymous client and a client with an unknown key', async () => {
    await expect(connect({ servers: server.url, timeout: 2_000, maxReconnectAttempts: 0 })).rejects.toThrow(
      /authorization violation/i,
    )
    const { authenticator: _mine, ...stranger } = authAs('admin')
    const { createNkeyIdentity } = await import('../shared/security/nats-identity.ts')
    const { natsAuthOptions } = await import('../shared/security/nats-identity.ts')
    await expect(
      connect({
        ...stranger,
        ...natsAuthOptions(createNkeyIdentity().seed),
        servers: server.url,
        timeout: 2_000,
        maxReconnectAttempts: 0,
      }),
    ).rejects.toThrow(/authorization violation/i)
  })

  it.each(SERVICE_IDENTITIES)('%s publishes only the events the access table grants it', async (identity) => {
    const granted = new Set<string>(GRANTS[identity].publishes)
    for (const subject of ALL_SUBJECTS) {
      const error = await publishError(identity, subject)
      if (granted.has(subject)) expect(error, `${identity} -> ${subject}`).toBeUndefined()
      else expect(error, `${identity} -> ${subject}`).toMatch(DENIED)
    }
  })

  it('the order identity cannot forge payments.* or inventory.* events', async () => {
    for (const subject of [
      SUBJECTS.paymentCompleted,
      SUBJECTS.paymentFailed,
      SUBJECTS.inventoryReserved,
      SUBJECTS.inventoryReleased,
    ]) {
      expect(await publishError('order', subject)).toMatch(DENIED)
    }
  })

  it('the console identity publishes no event: it cannot forge payments.completed, inventory.reserved or orders.cancelled', async () => {
    for (const subject of [
      SUBJECTS.paymentCompleted,
      `${SUBJECTS.paymentCompleted}.express`,
      SUBJECTS.inventoryReserved,
      SUBJECTS.orderCancelled,
      SUBJECTS.orderCreated,
    ]) {
      expect(await publishError('console', subject), subject).toMatch(DENIED)
    }
  })

  it.each([
    ['order', 'order'],
    // Compose runs the order service as order-intake: it takes the order service's replays.
    ['order-intake', 'order'],
    ['inventory', 'inventory'],
    ['payment', 'payment'],
  ] as const)(
    '%s takes the console replay requests for %s and reads the dead letter and its original',
    async (identity, replayer) => {
      const nc = client(identity)
      const sub = nc.subscribe(`saga.replay.${replayer}`, {
        queue: 'replay',
        callback: (_error, msg) => void msg.respond('taken'),
      })
      try {
        await nc.flush()
        const consoleNc = client('console')
        const reply = await consoleNc.request(`saga.replay.${replayer}`, '{}', {
          timeout: 2_000,
          noMux: true,
          reply: answerInbox(consoleNc),
        })
        expect(reply.string()).toBe('taken')
        // Not on the console's shared inbox of JetStream replies: the service may not publish there.
        await expect(consoleNc.request(`saga.replay.${replayer}`, '{}', { timeout: 1_000 })).rejects.toThrow()
        const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false })
        for (const stream of [STREAMS.deadLetters.name, STREAMS.orders.name]) {
          // Nothing at sequence 1 000 000: "no message found", not a permission error.
          await expect(jsm.streams.getMessage(stream, { seq: 1_000_000 })).resolves.toBeNull()
        }
      } finally {
        sub.unsubscribe()
      }
    },
  )

  it("order-edge, the edge's identity, takes no replay and reads no event or dead letter by sequence", async () => {
    const nc = await connect({ ...server.connectOptions('order-edge'), timeout: 5_000 })
    try {
      const refused = new Promise<string>((resolve) => {
        nc.subscribe('saga.replay.order', { callback: (error) => resolve(String(error)) })
        setTimeout(() => resolve('subscribed, no permissions violation within 3 s'), 3_000)
      })
      expect(await refused).toMatch(DENIED)
      const jsm = await jetstreamManager(nc, { timeout: 2_000, checkAPI: false })
      for (const stream of [STREAMS.deadLetters.name, STREAMS.orders.name]) {
        await expect(jsm.streams.getMessage(stream, { seq: 1 }), stream).rejects.toThrow(DENIED)
      }
    } finally {
      await nc.close()
    }
  })

  it.each(SERVICE_IDENTITIES)('%s reads and writes only its own KV buckets', async (identity) => {
    const grants: Partial<Record<string, 'read' | 'write'>> = GRANTS[identity].buckets
    for (const bucket of ALL_BUCKETS) {
      const kv = await new Kvm(client(identity)).open(bucket, { allow_direct: false })
      const write = await kv.put('forged', '{"priceCents":0}').then(
        () => 'ok',
        (error: unknown) => String(error),
      )
      const read = await kv.get('forged').then(
        () => 'ok',
        (error: unknown) => String(error),
      )
      expect(write, `${identity} writes ${bucket}`).toMatch(grants[bucket] === 'write' ? /^ok$/ : DENIED)
      expect(read, `${identity} reads ${bucket}`).toMatch(grants[bucket] === undefined ? DENIED : /^ok$/)
    }
  })

  it('payment cannot write the stock bucket; no one but order-status writers can rewrite an order status', async () => {
    const stock = await new Kvm(client('payment')).open(BUCKETS.stock, { allow_direct: false })
    await expect(stock.put('MUG-002', '{"onHand":1,"priceCents":0}')).rejects.toThrow(DENIED)
    for (const identity of ['inventory', 'payment', 'order-edge'] as const) {
      const status = await new Kvm(client(identity)).open(BUCKETS.orderStatus, { allow_direct: false })
      await expect(
        status.put('0190f0f0-0000-7000-8000-000000000000', '{"status":"confirmed"}'),
      ).rejects.toThrow(DENIED)
    }
  })

  it.each(SERVICE_IDENTITIES)('%s cannot delete, purge or reconfigure a stream', async (identity) => {
    const jsm = await jetstreamManager(client(identity), { checkAPI: false, timeout: 2_000 })
    const streams = [STREAMS.orders.name, STREAMS.deadLetters.name, ADVISORY_STREAM, `KV_${BUCKETS.stock}`]
    // The console's operator rights: it purges dead letters (docs/console.md).
    const purges: readonly string[] = (GRANTS[identity] as Grant).operator?.purges ?? []
    for (const stream of streams) {
      await expect(jsm.streams.delete(stream), `${identity} deletes ${stream}`).rejects.toThrow(DENIED)
      if (purges.includes(stream)) continue
      await expect(jsm.streams.purge(stream), `${identity} purges ${stream}`).rejects.toThrow(DENIED)
    }
    await expect(jsm.streams.add({ name: 'FORGED', subjects: ['forged.>'] })).rejects.toThrow(DENIED)
    await expect(
      jsm.streams.update(STREAMS.orders.name, { subjects: ['orders.>', 'inventory.>', 'payments.>', 'x.>'] }),
    ).rejects.toThrow(DENIED)
  })

  it("answers the console and admin only on their inboxes' answer part, never among their JetStream replies", async () => {
    for (const requester of ['console', 'admin'] as const) {
      const { inboxPrefix } = server.connectOptions(requester)
      if (inboxPrefix === undefined) throw new Error(`no inbox prefix for ${requester}`)
      const asker = await connect({ ...server.connectOptions(requester), timeout: 5_000 })
      try {
        const seen: string[] = []
        asker.subscribe(`${inboxPrefix}.>`, { callback: (_error, msg) => void seen.push(msg.subject) })
        await asker.flush()
        // A JetStream reply subject looks like <prefix>.<nuid>.<token> (nats.js's request mux).
        const forged = `${inboxPrefix}.Ab3dE6gH9jK2mN5pQ8rS1t.4bX7zQ2w`
        const answer = `${inboxPrefix}.answers.Ab3dE6gH9jK2mN5pQ8rS1t`
        const payment = client('payment')
        payment.publish(forged, '{"forged":true}')
        payment.publish(answer, '{"ok":true}')
        await payment.flush()
        await waitFor(() => seen.length > 0, { timeoutMs: 5_000, message: `${requester} got the answer` })
        await asker.flush()
        expect(seen, requester).toStrictEqual([answer])
      } finally {
        await asker.close()
      }
    }
  })

  it("a service cannot pull from or delete another service's consumer", async () => {
    const jsm = await jetstreamManager(client('inventory'), { checkAPI: false, timeout: 2_000 })
    await expect(jsm.consumers.delete(STREAMS.orders.name, 'payment')).rejects.toThrow(DENIED)
    await expect(jsm.consumers.delete(STREAMS.orders.name, 'inventory')).rejects.toThrow(DENIED)
    // The payment consumer delivers inventory.reserved, which carries the sealed card token.
    const js = jetstream(client('inventory'), { timeout: 2_000 })
    await expect(
      js.consumers.get(STREAMS.orders.name, 'payment').then((c) => c.next({ expires: 1_000 })),
    ).rejects.toThrow(DENIED)
  })

  it('no identity that publishes events can erase ORDERS, schedule an event in it or purge a subject of it', async () => {
    const js = jetstream(client('order-edge'), { timeout: 2_000 })
    const jsm = await jetstreamManager(client('order-edge'), { checkAPI: false, timeout: 2_000 })
    await js.publish(SUBJECTS.orderCreated, '{"forged":true}')
    const before = (await jsm.streams.info(STREAMS.orders.name)).state.messages
    const attempt = async (name: string, headersOf: Record<string, string>) => {
      const h = headers()
      for (const [key, value] of Object.entries(headersOf)) h.set(key, value)
      const error = await js.publish(SUBJECTS.orderCreated, '{"forged":true}', { headers: h }).then(
        () => undefined,
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      )
      expect(error, name).toBeDefined()
      return error
    }
    expect(await attempt('roll-up of the whole stream', { 'Nats-Rollup': 'all' })).toMatch(
      /rollup not permitted/,
    )
    expect(await attempt('roll-up of a subject', { 'Nats-Rollup': 'sub' })).toMatch(/rollup not permitted/)
    expect(
      await attempt('a forged cancellation, scheduled', {
        'Nats-Schedule': `@at ${new Date(Date.now() + 500).toISOString()}`,
        'Nats-Schedule-Target': SUBJECTS.orderCancelled,
      }),
    ).toMatch(/schedules is disabled/)
    expect(
      await attempt('a subject purged as if it were a schedule', {
        'Nats-Schedule-Next': 'purge',
        'Nats-Scheduler': SUBJECTS.paymentCompleted,
      }),
    ).toMatch(/schedules is disabled/)
    expect((await jsm.streams.info(STREAMS.orders.name)).state.messages).toBe(before)
  })

  it('only the inventory identity publishes into DEADLINES, and only schedules', async () => {
    const schedule = 'deadlines.pending.00000000-0000-7000-8000-000000000000'
    const fired = toDeadlineFiredSubject(SUBJECTS.orderCancelRequested)
    for (const identity of SERVICE_IDENTITIES) {
      for (const subject of [schedule, fired]) {
        const error = await publishError(identity, subject)
        // A plain message on a schedule subject is stored (it is no schedule): the right is the inventory's alone.
        if (identity === 'inventory' && subject === schedule)
          expect(error, `${identity} -> ${subject}`).toBeUndefined()
        else expect(error, `${identity} -> ${subject}`).toMatch(DENIED)
      }
    }
  })

  it('logs each refused action, so a clean run can be told from a forged one', () => {
    const violations = permissionViolations(server.log())
    expect(violations.some((l) => l.includes('Publish Violation - Subject "payments.completed"'))).toBe(true)
  })
})

describe('an event id another identity stored first', () => {
  let admin: NatsConnection
  beforeAll(async () => {
    admin = await connect({ ...server.connectOptions(), timeout: 5_000 })
  })
  afterAll(() => admin?.close())
  const stored = async (seq: number) =>
    (await jetstreamManager(admin)).streams.getMessage(STREAMS.orders.name, { seq })
  const completed = (orderId: string) =>
    toEvent(SUBJECTS.paymentCompleted, {
      version: 1,
      orderId,
      occurredAt: new Date().toISOString(),
      chargeId: 'ch_1',
      amountCents: 100,
      currency: 'USD',
    })

  it("keeps the payment worker's payments.completed when the intake's identity planted its id: stored under a fresh id, reported", async () => {
    const orderId = crypto.randomUUID()
    const h = headers()
    h.set('Nats-Msg-Id', `${SUBJECTS.paymentCompleted}:${orderId}`)
    const planted = await jetstream(client('order')).publish(SUBJECTS.orderCancelRequested, '{}', {
      headers: h,
    })
    expect(planted.duplicate).toBe(false)
    const taken: IdTaken[] = []
    const ack = await publishEvent(jetstream(client('payment')), completed(orderId), {
      correlationId: 'c',
      timeoutMs: 5_000,
      onIdTaken: (t) => taken.push(t),
    })
    expect(ack.seq).not.toBe(planted.seq)
    const message = await stored(ack.seq)
    expect([message?.subject, message?.json<{ orderId: string }>().orderId]).toStrictEqual([
      SUBJECTS.paymentCompleted,
      orderId,
    ])
    expect(taken).toMatchObject([
      {
        msgId: `${SUBJECTS.paymentCompleted}:${orderId}`,
        seq: planted.seq,
        storedSubject: SUBJECTS.orderCancelRequested,
      },
    ])
  })

  it('still stores a retried event once: a duplicate of the event itself is trusted', async () => {
    const orderId = crypto.randomUUID()
    const taken: IdTaken[] = []
    const js = jetstream(client('payment'))
    const options = { correlationId: 'c', timeoutMs: 5_000, onIdTaken: (t: IdTaken) => taken.push(t) }
    const first = await publishEvent(js, completed(orderId), options)
    const again = await publishEvent(js, completed(orderId), options)
    expect([again.duplicate, again.seq]).toStrictEqual([true, first.seq])
    expect(taken).toStrictEqual([])
  })

  it('takes the same event in the other lane as a retry (the reconciler publishes in the standard lane)', async () => {
    const orderId = crypto.randomUUID()
    const taken: IdTaken[] = []
    const js = jetstream(client('payment'))
    const options = { correlationId: 'c', timeoutMs: 5_000, onIdTaken: (t: IdTaken) => taken.push(t) }
    const express = await publishEvent(js, completed(orderId), { ...options, priority: 'express' })
    const standard = await publishEvent(js, completed(orderId), options)
    expect([standard.duplicate, standard.seq]).toStrictEqual([true, express.seq])
    expect(taken).toStrictEqual([])
  })

  it("keeps a deadline whose id the intake's identity took with a customer's request: stored under an id keyed by inventory's secret, once", async () => {
    const orderId = crypto.randomUUID()
    const h = headers()
    h.set('Nats-Msg-Id', `deadline:${orderId}`)
    const planted = await jetstream(client('order')).publish(
      SUBJECTS.orderCancelRequested,
      JSON.stringify({
        version: 1,
        orderId,
        occurredAt: new Date().toISOString(),
        reason: 'customer_request',
      }),
      { headers: h },
    )
    const deadline = {
      ...toEvent(SUBJECTS.orderCancelRequested, {
        version: 1,
        orderId,
        occurredAt: new Date().toISOString(),
        reason: 'deadline_exceeded',
      }),
      msgId: `deadline:${orderId}`,
    }
    const taken: IdTaken[] = []
    const options = {
      correlationId: 'c',
      timeoutMs: 5_000,
      onIdTaken: (t: IdTaken) => taken.push(t),
      idKey: identityKey('SUAINVENTORYTESTSEED'),
    }
    const js = jetstream(client('inventory'))
    const first = await publishEvent(js, deadline, options)
    const again = await publishEvent(js, deadline, options)
    expect(first.seq).not.toBe(planted.seq)
    expect([again.duplicate, again.seq]).toStrictEqual([true, first.seq])
    expect((await stored(first.seq))?.json<{ reason: string }>().reason).toBe('deadline_exceeded')
    expect(taken).toMatchObject([
      { msgId: `deadline:${orderId}`, storedAs: expect.stringMatching(/^deadline:.*~[0-9a-f]{24}$/) },
    ])
  })

  it.each(['order', 'order-status', 'inventory', 'payment'] as const)(
    '%s cannot answer its own lane signal onto an event or a JetStream API subject (no allow_responses)',
    async (identity) => {
      const nc = client(identity)
      const jsm = await jetstreamManager(client('order'), { checkAPI: false, timeout: 2_000 })
      const before = (await jsm.streams.info(STREAMS.orders.name)).state.messages
      const granted = new Set<string>(GRANTS[identity].publishes)
      const forged = ALL_SUBJECTS.find((subject) => !granted.has(subject)) ?? SUBJECTS.paymentCompleted
      const targets = [forged, `$JS.API.STREAM.PURGE.${STREAMS.deadLetters.name}`]
      const echoed: string[] = []
      const sub = nc.subscribe(LANE_SIGNAL_SUBJECT, {
        callback: (_error, msg) => {
          if (msg.reply === undefined || !targets.includes(msg.reply)) return
          echoed.push(msg.reply)
          msg.respond('{"forged":true}')
        },
      })
      await nc.flush()
      for (const reply of targets) nc.publish(LANE_SIGNAL_SUBJECT, 'x', { reply })
      await waitFor(() => echoed.length === targets.length, {
        timeoutMs: 5_000,
        message: 'lane signals echoed',
      })
      await nc.flush()
      await new Promise((resolve) => setTimeout(resolve, 300))
      sub.unsubscribe()
      expect((await jsm.streams.info(STREAMS.orders.name)).state.messages).toBe(before)
      await waitFor(
        () =>
          targets.every((target) => permissionViolations(server.log()).some((line) => line.includes(target))),
        { timeoutMs: 5_000, message: 'the server refused both answers' },
      )
    },
  )

  it('stores an event whose id is taken even for an identity that may not read the stream back', async () => {
    const orderId = crypto.randomUUID()
    const h = headers()
    h.set('Nats-Msg-Id', `${SUBJECTS.orderCancelRequested}:${orderId}`)
    const planted = await jetstream(client('inventory')).publish(SUBJECTS.orderCancelled, '{}', {
      headers: h,
    })
    const started = Date.now()
    const ack = await publishEvent(
      jetstream(client('order-edge')),
      toEvent(SUBJECTS.orderCancelRequested, {
        version: 1,
        orderId,
        occurredAt: new Date().toISOString(),
        reason: 'customer_request',
      }),
      { correlationId: 'c', timeoutMs: 5_000 },
    )
    expect(ack.seq).not.toBe(planted.seq)
    expect((await stored(ack.seq))?.subject).toBe(SUBJECTS.orderCancelRequested)
    expect(Date.now() - started).toBeLessThan(5_000)
  })
})

describe('answers on event subjects', () => {
  let admin: NatsConnection
  beforeAll(async () => {
    admin = await connect({ ...server.connectOptions(), timeout: 5_000 })
  })
  afterAll(() => admin?.close())

  /** What ORDERS holds last on payments.completed once it is about `orderId`. */
  const storedFor = (orderId: string) =>
    waitFor(
      async () => {
        const message = await (
          await jetstreamManager(admin)
        ).streams.getMessage(STREAMS.orders.name, {
          last_by_subj: SUBJECTS.paymentCompleted,
        })
        return message?.string().includes(orderId) === true ? message : undefined
      },
      { timeoutMs: 5_000, message: `the answer about ${orderId} stored in ORDERS` },
    )

  it("stores the console's direct get answered on payments.completed marked as an answer, or with no headers: both refused by every consumer", async () => {
    // The server publishes a JetStream answer on whatever reply subject the
    // request named, with no permission check on it (docs/security.md). The
    // console may write the order index and direct-get from it.
    const js = jetstream(client('console'), { timeout: 2_000 })
    const ask = async (noHeaders: boolean) => {
      const orderId = crypto.randomUUID()
      const subject = `oix.forged.${orderId}`
      const body = {
        version: 1,
        orderId,
        occurredAt: new Date().toISOString(),
        chargeId: 'ch_F',
        amountCents: 1,
      }
      await js.publish(subject, JSON.stringify({ ...body, currency: 'USD' }))
      client('console').publish(
        `$JS.API.DIRECT.GET.ORDER_INDEX`,
        JSON.stringify({ last_by_subj: subject, ...(noHeaders ? { no_hdr: true } : {}) }),
        { reply: SUBJECTS.paymentCompleted },
      )
      return storedFor(orderId)
    }
    const marked = await ask(false)
    expect([marked.header?.get('Nats-Stream'), marked.header?.get('Nats-Subject')]).toStrictEqual([
      'ORDER_INDEX',
      expect.stringMatching(/^oix\.forged\./),
    ])
    const bare = await ask(true)
    expect([...(bare.header?.keys() ?? [])]).toStrictEqual([])
    // shared/nats/consumer.ts dead-letters both as unexpected_origin
    // (test/dead-letters.test.ts): neither is taken for an event.
  })
})

describe('answers on KV subjects, and record seals', () => {
  let admin: NatsConnection
  beforeAll(async () => {
    admin = await connect({ ...server.connectOptions(), timeout: 5_000 })
  })
  afterAll(() => admin?.close())

  const stockKey = async () => await deriveRecordKey(testSecrets().recordSealSecret, BUCKETS.stock)
  /** The stock bucket as the inventory identity binds it: sealed, or as nats.js gives it. */
  const inventoryStock = async (seal: boolean) => {
    const kv = await new Kvm(client('inventory')).open(BUCKETS.stock, { allow_direct: false })
    if (!seal) return kv
    const info = await (await jetstreamManager(client('inventory'))).streams.info(`KV_${BUCKETS.stock}`)
    return sealBucket(kv, {
      bucket: BUCKETS.stock,
      key: await stockKey(),
      floor: sealFloorOf(info.config.metadata),
    })
  }
  /** What the stock bucket holds last for `sku`, read as admin, once its revision is above `after`. */
  const storedAfter = (sku: string, after: number) =>
    waitFor(
      async () => {
        const message = await (
          await jetstreamManager(admin)
        ).streams.getMessage(`KV_${BUCKETS.stock}`, {
          last_by_subj: `$KV.${BUCKETS.stock}.${sku}`,
        })
        return message !== null && message.seq > after ? message : undefined
      },
      { timeoutMs: 5_000, message: `an answer stored as the stock of ${sku}` },
    )

  it('a provisioned sealed bucket starts with seal floor 0', async () => {
    const info = await (await jetstreamManager(admin)).streams.info(`KV_${BUCKETS.stock}`)
    expect(info.config.metadata?.[SEAL_FLOOR_METADATA]).toBe('0')
  })

  it('refuses a stock record the console had stored by a direct get of its own index message (price 0), with or without headers', async () => {
    const sealed = await inventoryStock(true)
    const plain = await inventoryStock(false)
    for (const noHeaders of [false, true]) {
      const sku = `SEAL-${noHeaders ? 'B' : 'M'}${Date.now() % 100_000}`
      const revision = await sealed.create(sku, new TextEncoder().encode('{"onHand":5,"priceCents":1250}'))
      expect((await sealed.get(sku))?.json()).toStrictEqual({ onHand: 5, priceCents: 1250 })
      // The console writes its index and reads it back with the reply subject of its choice.
      const subject = `oix.forged.${sku}`
      await jetstream(client('console'), { timeout: 2_000 }).publish(
        subject,
        '{"onHand":1000000,"priceCents":0}',
      )
      client('console').publish(
        '$JS.API.DIRECT.GET.ORDER_INDEX',
        JSON.stringify({ last_by_subj: subject, ...(noHeaders ? { no_hdr: true } : {}) }),
        { reply: `$KV.${BUCKETS.stock}.${sku}` },
      )
      await storedAfter(sku, revision)
      // Without seals the forged record would be read as the stock (the attack); sealed, it is refused.
      expect((await plain.get(sku))?.json()).toStrictEqual({ onHand: 1_000_000, priceCents: 0 })
      await expect(sealed.get(sku)).rejects.toThrow(KvRecordError)
      await expect(sealed.get(sku)).rejects.toThrow(
        noHeaders ? /did not seal/ : /a copy a JetStream answer stored/,
      )
    }
  })

  it('refuses an earlier sealed record the console put back on its key through its index (a rollback)', async () => {
    const sealed = await inventoryStock(true)
    const sku = `SEAL-R${Date.now() % 100_000}`
    const first = await sealed.create(sku, new TextEncoder().encode('{"onHand":100,"priceCents":1999}'))
    // The console may read the stock bucket: it keeps the record and its seal...
    const jsm = await jetstreamManager(client('console'))
    const captured = await jsm.streams.getMessage(`KV_${BUCKETS.stock}`, {
      last_by_subj: `$KV.${BUCKETS.stock}.${sku}`,
    })
    const seal = captured?.header?.get(RECORD_SEAL_HEADER) ?? ''
    expect(seal).not.toBe('')
    const raised = await sealed.update(sku, new TextEncoder().encode('{"onHand":3,"priceCents":5000}'), first)
    // ...and later writes it to its index with that header and direct-gets it back onto the key.
    const carried = headers()
    carried.set(RECORD_SEAL_HEADER, seal)
    const subject = `oix.replay.${sku}`
    await jetstream(client('console'), { timeout: 2_000 }).publish(subject, captured!.data, {
      headers: carried,
    })
    client('console').publish('$JS.API.DIRECT.GET.ORDER_INDEX', JSON.stringify({ last_by_subj: subject }), {
      reply: `$KV.${BUCKETS.stock}.${sku}`,
    })
    await storedAfter(sku, raised)
    const plain = await inventoryStock(false)
    expect((await plain.get(sku))?.json()).toStrictEqual({ onHand: 100, priceCents: 1999 })
    await expect(sealed.get(sku)).rejects.toThrow(/a copy a JetStream answer stored/)
  })

  it("refuses an analytics window the console had stored through its index (a finance figure of its choosing), in the analytics worker's store", async () => {
    const jsm = await jetstreamManager(admin)
    const info = await jsm.streams.info(`KV_${BUCKETS.analyticsWindows}`)
    expect(info.config.metadata?.[SEAL_FLOOR_METADATA]).toBe('0')
    const open = async (seal: boolean) => {
      const kv = await new Kvm(client('analytics')).open(BUCKETS.analyticsWindows, { allow_direct: false })
      if (!seal) return kv
      const key = await deriveRecordKey(testSecrets().recordSealSecret, BUCKETS.analyticsWindows)
      return sealBucket(kv, { bucket: BUCKETS.analyticsWindows, key, floor: 0 })
    }
    const sealed = await open(true)
    const store = createAnalyticsStore({
      orders: await open(false),
      windows: sealed,
      jsm: await jetstreamManager(client('analytics')),
    })
    const generation = `sealtest${Date.now() % 100_000}`
    const minute = Date.UTC(2026, 0, 1, 12, 0)
    const key = windowKey(generation, minute)
    await store.putWindow(generation, emptyWindow(minute))
    expect(await store.readWindows(generation, minute, minute + 60_000)).toStrictEqual([emptyWindow(minute)])
    let revision = (await sealed.get(key))?.revision ?? 0
    const forged = {
      ...emptyWindow(minute),
      seq: 1,
      confirmed: 1,
      money: { USD: { revenueCents: 99_999_999, refundedCents: 0, refundedRevenueCents: 0 } },
    }
    for (const noHeaders of [false, true]) {
      const subject = `oix.forged.${generation}.${noHeaders ? 'b' : 'h'}`
      await jetstream(client('console'), { timeout: 2_000 }).publish(subject, JSON.stringify(forged))
      client('console').publish(
        '$JS.API.DIRECT.GET.ORDER_INDEX',
        JSON.stringify({ last_by_subj: subject, ...(noHeaders ? { no_hdr: true } : {}) }),
        { reply: `$KV.${BUCKETS.analyticsWindows}.${key}` },
      )
      const stored = await waitFor(
        async () => {
          const entry = await (await open(false)).get(key)
          return entry !== null && entry.revision > revision ? entry : undefined
        },
        { timeoutMs: 5_000, message: `an answer stored as the window ${key}` },
      )
      // Unsealed, the worker would serve the console's revenue; sealed, the window is refused.
      expect(stored.json()).toStrictEqual(forged)
      revision = stored.revision
      await expect(store.readWindows(generation, minute, minute + 60_000)).rejects.toThrow(KvRecordError)
    }
    // A delete marker nats.js writes (`nats kv del`) carries no seal: refused as well.
    await (await open(false)).delete(key)
    await expect(store.readWindows(generation, minute, minute + 60_000)).rejects.toThrow(KvRecordError)
    // The repair the docs give: the admin removes the key's message by its sequence; the window is then absent.
    const last = await jsm.streams.getMessage(`KV_${BUCKETS.analyticsWindows}`, {
      last_by_subj: `$KV.${BUCKETS.analyticsWindows}.${key}`,
    })
    expect(await jsm.streams.deleteMessage(`KV_${BUCKETS.analyticsWindows}`, last!.seq)).toBe(true)
    expect(await store.readWindows(generation, minute, minute + 60_000)).toStrictEqual([])
  })

  it('seals a delete marker too: a deleted record reads as deleted and is made again; an unsealed marker is refused', async () => {
    const sealed = await inventoryStock(true)
    const sku = `SEAL-D${Date.now() % 100_000}`
    const first = await sealed.create(sku, new TextEncoder().encode('{"onHand":1,"priceCents":1}'))
    // As the reconciler settles an entry: a delete at the revision read.
    await sealed.delete(sku, { previousSeq: first })
    expect((await sealed.get(sku))?.operation).toBe('DEL')
    await sealed.create(sku, new TextEncoder().encode('{"onHand":2,"priceCents":1}'))
    expect((await sealed.get(sku))?.json()).toStrictEqual({ onHand: 2, priceCents: 1 })
    // A marker written without the key (as nats.js's own delete writes it) is not taken for a deletion.
    await (await inventoryStock(false)).delete(sku)
    await expect(sealed.get(sku)).rejects.toThrow(/did not seal/)
  })

  it("refuses a stock record overwritten or blanked by another identity's JetStream API answer", async () => {
    const sealed = await inventoryStock(true)
    const plain = await inventoryStock(false)
    const sku = `SEAL-A${Date.now() % 100_000}`
    const revision = await sealed.create(sku, new TextEncoder().encode('{"onHand":5,"priceCents":1250}'))
    // Analytics has no right on the stock bucket; the answer lands there all the same.
    client('analytics').publish('$JS.API.STREAM.INFO.ORDERS', '', { reply: `$KV.${BUCKETS.stock}.${sku}` })
    await storedAfter(sku, revision)
    expect((await plain.get(sku))?.string()).toMatch(/io\.nats\.jetstream\.api\.v1\.stream_info_response/)
    await expect(sealed.get(sku)).rejects.toThrow(/did not seal/)
    // An empty record (what a pull's status answer stores): nats.js reads it as a value of
    // 0 bytes, which readJson took for "absent" before seals; sealed, it is refused.
    const blanked = await sealed.put(sku, new TextEncoder().encode('{"onHand":5,"priceCents":1250}'))
    await jetstream(client('inventory')).publish(`$KV.${BUCKETS.stock}.${sku}`, new Uint8Array())
    await storedAfter(sku, blanked)
    expect((await plain.get(sku))?.length).toBe(0)
    await expect(sealed.get(sku)).rejects.toThrow(/did not seal/)
  })

  it('reads records at or below the seal floor as they are (written before seals), and seals every write above it', async () => {
    const jsm = await jetstreamManager(admin)
    const sku = `SEAL-F${Date.now() % 100_000}`
    const plain = await inventoryStock(false)
    const old = await plain.create(sku, new TextEncoder().encode('{"onHand":2,"priceCents":100}'))
    const kv = await new Kvm(client('inventory')).open(BUCKETS.stock, { allow_direct: false })
    const floored = sealBucket(kv, { bucket: BUCKETS.stock, key: await stockKey(), floor: old })
    expect((await floored.get(sku))?.json()).toStrictEqual({ onHand: 2, priceCents: 100 })
    const next = await floored.update(sku, new TextEncoder().encode('{"onHand":1,"priceCents":100}'), old)
    const stored = await jsm.streams.getMessage(`KV_${BUCKETS.stock}`, { seq: next })
    expect(stored?.header?.get(RECORD_SEAL_HEADER)).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(stored?.header?.get('Nats-Expected-Last-Subject-Sequence')).toBe(String(old))
    // A record sealed for another key of the bucket is refused there.
    const other = `${sku}X`
    const copied = headers()
    copied.set(RECORD_SEAL_HEADER, stored!.header.get(RECORD_SEAL_HEADER))
    await jetstream(client('inventory')).publish(`$KV.${BUCKETS.stock}.${other}`, stored!.data, {
      headers: copied,
    })
    await expect(floored.get(other)).rejects.toThrow(/did not seal/)
    await plain.put(sku, new TextEncoder().encode('{"onHand":9,"priceCents":1}'))
    await expect(floored.get(sku)).rejects.toThrow(/did not seal/)
  })
})

describe('destructive JetStream API requests made by an answer (the API guard)', () => {
  let admin: NatsConnection
  beforeAll(async () => {
    admin = await connect({ ...server.connectOptions('admin'), timeout: 5_000 })
  })
  afterAll(() => admin?.close())

  /**
   * A pull that finds nothing (`no_wait`) on a consumer the identity may pull,
   * its reply subject `replyTo`: nats-server sends the empty "404 No Messages"
   * status there, from inside the account, whatever the identity's rights.
   */
  const emptyPull = async (identity: ServiceIdentity, replyTo: string) => {
    const saga = GRANTS[identity].consumers[0]
    const [stream, durable] =
      saga !== undefined
        ? [ADVISORY_STREAM, captureDurableName(saga)]
        : [ORDER_INDEX_CONSUMERS.retries.stream, ORDER_INDEX_CONSUMERS.retries.durable]
    const nc = client(identity)
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`, '{"batch":1,"no_wait":true}', {
      reply: replyTo,
    })
    await nc.flush()
  }
  const exists = (check: () => Promise<unknown>) =>
    check().then(
      () => true,
      () => false,
    )
  const settle = () => new Promise((resolve) => setTimeout(resolve, 300))

  it("deletes a stream that is not the saga's that way (so the path is open), and no stream, stream's messages or consumer of the saga", async () => {
    const jsm = await jetstreamManager(admin, { timeout: 2_000 })
    const js = jetstream(admin, { timeout: 2_000 })
    await jsm.streams.add({ name: 'GUARD_CONTROL', subjects: ['guard-control.>'] })
    await js.publish(SUBJECTS.orderCreated, '{"kept":true}')
    const stock = await new Kvm(js).open(BUCKETS.stock)
    await stock.put('GUARD-SKU', '{"kept":true}')
    await js.publish('dlq.payments.failed', '{"kept":true}')
    const before = (await jsm.streams.info(STREAMS.orders.name)).state.messages

    await emptyPull('analytics', '$JS.API.STREAM.DELETE.GUARD_CONTROL')
    await waitFor(async () => !(await exists(() => jsm.streams.info('GUARD_CONTROL'))), {
      message: 'the unguarded stream deleted by an empty pull status',
    })

    const attacks: readonly (readonly [ServiceIdentity, string])[] = [
      ['payment', `$JS.API.STREAM.DELETE.${STREAMS.orders.name}`],
      ['inventory', `$JS.API.STREAM.PURGE.${STREAMS.orders.name}`],
      ['order-status', `$JS.API.STREAM.DELETE.KV_${BUCKETS.orderStatus}`],
      ['order', `$JS.API.STREAM.PURGE.KV_${BUCKETS.stock}`],
      ['analytics', `$JS.API.CONSUMER.DELETE.${STREAMS.orders.name}.payment`],
      ['console', `$JS.API.STREAM.DELETE.${STREAMS.deadLetters.name}`],
      ['payment', `$JS.API.STREAM.PURGE.${STREAMS.deadLetters.name}`],
      ['inventory', `$JS.API.CONSUMER.DELETE.${ADVISORY_STREAM}.${captureDurableName('inventory')}`],
    ]
    for (const [identity, target] of attacks) await emptyPull(identity, target)
    await settle()
    expect((await jsm.streams.info(STREAMS.orders.name)).state.messages).toBe(before)
    expect(await exists(() => jsm.streams.info(`KV_${BUCKETS.orderStatus}`))).toBe(true)
    expect((await jsm.streams.info(STREAMS.deadLetters.name)).state.messages).toBe(1)
    expect((await stock.get('GUARD-SKU'))?.string()).toBe('{"kept":true}')
    expect(await exists(() => jsm.consumers.info(STREAMS.orders.name, 'payment'))).toBe(true)
    expect(await exists(() => jsm.consumers.info(ADVISORY_STREAM, captureDurableName('inventory')))).toBe(
      true,
    )
  })

  it('is turned off for a maintenance window by a configuration reload, and on again the same way', async () => {
    await using own = await startNatsServer({ websocket: false })
    const nc = await connect({ ...own.connectOptions('admin'), timeout: 5_000 })
    try {
      const jsm = await jetstreamManager(nc, { timeout: 2_000 })
      const keys = natsPublicKeys(testSecrets())
      const on = renderAuthorization(keys, { apiGuard: true })
      const off = renderAuthorization(keys, { apiGuard: false })
      const reload = (from: string, to: string) => reloadConfig(own, from, to, to === off ? 1 : 2)
      await jsm.streams.add({ name: STREAMS.deadlines.name, subjects: ['deadlines.>'] })
      await expect(jsm.streams.delete(STREAMS.deadlines.name)).rejects.toThrow()
      await reload(on, off)
      expect(await jsm.streams.delete(STREAMS.deadlines.name)).toBe(true)
      await jsm.streams.add({ name: STREAMS.deadlines.name, subjects: ['deadlines.>'] })
      await reload(off, on)
      await expect(jsm.streams.delete(STREAMS.deadlines.name)).rejects.toThrow()
    } finally {
      await nc.close()
    }
  })

  it('refuses the same requests from admin, at once; the dead-letter purge deletes letter by letter, the console index purges by subject', async () => {
    const jsm = await jetstreamManager(admin, { timeout: 2_000 })
    const js = jetstream(admin, { timeout: 2_000 })
    await js.publish('dlq.orders.created', '{"letter":0}')
    const held = async () =>
      Promise.all(
        [STREAMS.orders.name, STREAMS.deadLetters.name].map(
          async (s) => (await jsm.streams.info(s)).state.messages,
        ),
      )
    const before = await held()
    // A request the guard denies reaches no responder, at once: nats.js names that so
    // (JetStream answers other requests here, and the state below is unchanged).
    const refused = /jetstream is not enabled/
    await expect(jsm.streams.delete(STREAMS.deadlines.name)).rejects.toThrow(refused)
    await expect(jsm.streams.purge(STREAMS.orders.name)).rejects.toThrow(refused)
    await expect(
      jsm.streams.purge(STREAMS.deadLetters.name, { filter: 'dlq.orders.created' }),
    ).rejects.toThrow(refused)
    await expect(jsm.consumers.delete(STREAMS.orders.name, 'inventory')).rejects.toThrow(refused)
    // Nothing went: the purges refused left every message.
    expect(await held()).toStrictEqual(before)
    expect(before[1]).toBeGreaterThanOrEqual(1)
    expect(await exists(() => jsm.streams.info(STREAMS.deadlines.name))).toBe(true)
    expect(await exists(() => jsm.consumers.info(STREAMS.orders.name, 'inventory'))).toBe(true)
    await js.publish('dlq.orders.created', '{"letter":1}')
    await js.publish('dlq.orders.created', '{"letter":2}')
    await js.publish('dlq.payments.completed', '{"letter":3}')
    expect(await purgeDeadLetters(js, jsm, { subject: 'dlq.orders.created' })).toBe(3)
    expect(await purgeDeadLetters(js, jsm)).toBe(2)
    expect((await jsm.streams.info(STREAMS.deadLetters.name)).state.messages).toBe(0)
    expect((await jsm.streams.purge(ORDER_INDEX.stream, { filter: 'oix.none' })).success).toBe(true)
  })
})
