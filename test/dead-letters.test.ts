// Dead letters JetStream gave up on behind the consumer loop's back (crash or
// hang on the last delivery, a term elsewhere), caught from its advisories on
// a real nats-server: stored once, with the loop's headers, never silently lost.
import { DEAD_LETTER_REASON_LABELS } from '../shared/observability/labels.ts'
import { randomUUID } from 'node:crypto'
import { headers as createHeaders } from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import { DEAD_LETTER_HEADERS, HEADERS, SUBJECTS } from '../schemas/subjects.ts'
import { CE_HEADERS, toEventType } from '../shared/nats/cloudevents.ts'
import { listDeadLetters, replayDeadLetter } from '../shared/nats/dead-letter-admin.ts'
import { startConsumer, TWIN_DEFER_MS } from '../shared/nats/consumer.ts'
import type { Logger } from '../shared/observability/log.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { ADVISORY_PREFIXES, parseAdvisory } from '../shared/nats/dead-letter-advisory.ts'
import { ADVISORY_STREAM } from '../shared/nats/dead-letter-capture.ts'
import {
  deadLetterStreamConfig,
  durableConsumerConfig,
  ensureConsumer,
  ensureStream,
} from '../shared/nats/topology.ts'
import { waitFor } from './harness/wait-for.ts'
import {
  DLQ,
  limits,
  logger,
  ORDERS,
  orderCreated,
  startDeadLetterFixture,
  type DeadLetterFixture,
} from './support/dead-letter-fixture.ts'

const DLQ_ORDER_CREATED = `dlq.${SUBJECTS.orderCreated}`

/** The consumer loop on ORDERS as `durable`, its handler always failing (then dead-lettering). */
function failingLoop(f: DeadLetterFixture, durable: string, log: Logger) {
  return startConsumer({
    ...ordersLoop(f, durable),
    logger: log,
    handlers: { [SUBJECTS.orderCreated]: () => Promise.reject(new Error('inventory store down')) },
    nakDelayMs: () => 50,
  })
}

/** What every loop of these tests shares: `durable` on ORDERS over `orders.>`, the fixture's limits. */
function ordersLoop(f: DeadLetterFixture, durable: string) {
  return {
    js: f.js,
    metrics: f.metrics,
    stream: ORDERS,
    durable,
    concurrency: 4,
    maxDeliver: limits.maxDeliver,
    ackWaitMs: limits.ackWaitMs,
    publishTimeoutMs: 2_000,
    ensureConsumer: () =>
      ensureConsumer(f.jsm, ORDERS, durableConsumerConfig(durable, ['orders.>'], limits)).then(
        () => undefined,
      ),
    pullExpiresMs: 1_000,
  }
}

/** A consumer loop on `orders.>` that handles `orders.created` by noting its order id. */
async function orderCreatedReader(f: DeadLetterFixture, durable: string) {
  await f.worker(durable)
  const handled: string[] = []
  const loop = await startConsumer({
    ...ordersLoop(f, durable),
    logger,
    handlers: {
      [SUBJECTS.orderCreated]: (event) => {
        handled.push(event.orderId)
        return Promise.resolve([])
      },
    },
  })
  return { handled, loop }
}

/**
 * Runs `plant` (messages no consumer should take), then publishes a genuine
 * order, waits for `letters` dead letters and that order handled, and stops
 * the reader: the genuine one is all it handled.
 */
async function plantedThenGenuine(
  f: DeadLetterFixture,
  reader: Awaited<ReturnType<typeof orderCreatedReader>>,
  letters: number,
  plant: () => Promise<void>,
): Promise<void> {
  const genuine = orderCreated()
  try {
    await plant()
    await f.publishOrder(genuine, 'corr-genuine')
    await waitFor(async () => (await f.dlqCount()) === letters && reader.handled.length === 1, {
      message: `${letters} dead letters and the genuine order handled`,
    })
  } finally {
    await reader.loop.stop()
  }
  expect(reader.handled).toStrictEqual([genuine.orderId])
}

describe('dead-letter capture from JetStream advisories', () => {
  it('dead-letters a message whose last delivery ran out of ack wait (crashed worker)', async () => {
    await using f = await startDeadLetterFixture()
    const worker = await f.worker('crashy')
    await f.capture('crashy')
    const advisories: Record<string, unknown>[] = []
    const sub = f.nc.subscribe(`${ADVISORY_PREFIXES.maxDeliveries}.${ORDERS}.crashy`, {
      callback: (_err, msg) => {
        advisories.push(msg.json<Record<string, unknown>>())
      },
    })
    const payload = orderCreated()
    const seq = await f.publishOrder(payload, 'corr-crash')

    // Delivered, never acked (the worker died), redelivered after the 1 s ack wait, again never acked.
    expect((await worker.next({ expires: 3_000 }))?.info.deliveryCount).toBe(1)
    expect((await worker.next({ expires: 3_000 }))?.info.deliveryCount).toBe(2)
    // The restarted worker pulls: nothing comes, and JetStream announces the give-up
    // (2.10 sends MAX_DELIVERIES once a pull waits after the last ack wait ran out).
    expect(await worker.next({ expires: 2_500 })).toBeNull()

    const letter = await waitFor(() => f.jsm.streams.getMessage(DLQ, { last_by_subj: DLQ_ORDER_CREATED }), {
      message: 'the dead letter',
    })
    expect(letter.json()).toStrictEqual(payload)
    expect(Object.fromEntries([...letter.header].map(([k, v]) => [k, v.join(',')]))).toStrictEqual({
      [HEADERS.correlationId]: 'corr-crash',
      [HEADERS.eventVersion]: '1',
      // The loop's id for this (stream, sequence, consumer): whoever stores first, it is stored once.
      [HEADERS.msgId]: `dlq:${ORDERS}:${seq}:crashy`,
      [DEAD_LETTER_HEADERS.reason]: 'max_deliver_exhausted: not acknowledged after delivery 2',
      [DEAD_LETTER_HEADERS.subject]: SUBJECTS.orderCreated,
      [DEAD_LETTER_HEADERS.stream]: ORDERS,
      [DEAD_LETTER_HEADERS.sequence]: String(seq),
      [DEAD_LETTER_HEADERS.deliveries]: '2',
      [DEAD_LETTER_HEADERS.consumer]: 'crashy',
      [DEAD_LETTER_HEADERS.time]: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    })
    expect(await f.dlqCount()).toBe(1)
    await waitFor(async () => (await f.captured('crashy', 'dead_letter')) === 1, {
      message: 'the advisory acked',
    })
    expect((await f.jsm.consumers.info(ADVISORY_STREAM, 'dlq-capture-crashy')).num_ack_pending).toBe(0)

    // The advisory as nats-server 2.10 sends it: exactly these fields.
    sub.unsubscribe()
    expect(advisories).toHaveLength(1)
    expect(Object.keys(advisories[0] ?? {}).sort()).toStrictEqual([
      'consumer',
      'deliveries',
      'id',
      'stream',
      'stream_seq',
      'timestamp',
      'type',
    ])
    expect(advisories[0]).toMatchObject({
      type: 'io.nats.jetstream.advisory.v1.max_deliver',
      stream: ORDERS,
      consumer: 'crashy',
      stream_seq: seq,
      deliveries: 2,
    })
  })

  it('terminates an advisory that is a stored copy, or whose body names another consumer than its subject, and copies nothing', async () => {
    await using f = await startDeadLetterFixture()
    await f.worker('victim')
    await f.capture('victim')
    const seq = await f.publishOrder(orderCreated(), 'corr-handled')
    const subject = `${ADVISORY_PREFIXES.maxDeliveries}.${ORDERS}.victim`
    const advisory = (consumer: string) =>
      JSON.stringify({
        type: 'io.nats.jetstream.advisory.v1.max_deliver',
        id: randomUUID(),
        timestamp: new Date().toISOString(),
        stream: ORDERS,
        consumer,
        stream_seq: seq,
        deliveries: 5,
      })
    // A direct get's answer sent to the advisory subject: the server's headers go with it.
    const answer = createHeaders()
    answer.set('Nats-Stream', 'ORDER_INDEX')
    answer.set('Nats-Sequence', '3')
    await f.js.publish(subject, advisory('victim'), { headers: answer })
    await f.js.publish(subject, advisory('another'))
    // The shape nats-server sends: copied (so the capture did run on the two above).
    await f.js.publish(subject, advisory('victim'))
    await waitFor(async () => (await f.captured('victim', 'dead_letter')) === 1, {
      message: 'the real one copied',
    })
    await waitFor(async () => (await f.captured('victim', 'term')) === 2, {
      message: 'both forgeries terminated',
    })
    expect(await f.dlqCount()).toBe(1)
  })

  it('stores what the loop dead-lettered and terminated only once, though the capture sees every term', async () => {
    await using f = await startDeadLetterFixture()
    await f.worker('looped')
    await f.capture('looped')
    const loop = await failingLoop(f, 'looped', logger)
    let poison: number
    let failing: number
    try {
      poison = await f.publishOrder('{"not json', 'corr-poison')
      failing = await f.publishOrder(orderCreated(), 'corr-failing')
      // Each term is followed by a MSG_TERMINATED advisory the capture copies under the loop's msg id: a duplicate.
      await waitFor(async () => (await f.captured('looped', 'duplicate')) === 2, {
        message: 'both terms seen by the capture',
      })
    } finally {
      await loop.stop()
    }
    expect(await f.captured('looped', 'dead_letter')).toBe(0)
    const info = await f.jsm.streams.info(DLQ, { subjects_filter: 'dlq.>' })
    expect(info.state.subjects).toStrictEqual({ [DLQ_ORDER_CREATED]: 2 })
    const letters = await Promise.all([1, 2].map((seq) => f.jsm.streams.getMessage(DLQ, { seq })))
    const reasonBySeq = Object.fromEntries(
      letters.map((l) => [
        l?.header.get(DEAD_LETTER_HEADERS.sequence),
        l?.header.get(DEAD_LETTER_HEADERS.reason),
      ]),
    )
    expect(reasonBySeq).toStrictEqual({
      [String(poison)]: expect.stringMatching(/^malformed_json: /),
      [String(failing)]: 'max_deliver_exhausted: inventory store down',
    })
  })

  it("logs each dead letter with the delivery's trace_id and span_id, and the order id when it is known", async () => {
    await using f = await startDeadLetterFixture()
    await f.worker('traced')
    const lines: Record<string, unknown>[] = []
    const loop = await failingLoop(
      f,
      'traced',
      createLogger({
        service: 'dead-letters-test',
        level: 'warn',
        destination: {
          write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
        },
      }),
    )
    const traced = (trace: string) => {
      const h = createHeaders()
      h.set(HEADERS.correlationId, `corr-${trace.slice(0, 4)}`)
      h.set(HEADERS.eventVersion, '1')
      h.set('traceparent', `00-${trace}-00f067aa0ba902b7-01`)
      return h
    }
    const poisonTrace = 'aaaa0000000000000000000000000001'
    const failingTrace = 'bbbb0000000000000000000000000002'
    const failing = orderCreated()
    try {
      await f.js.publish(SUBJECTS.orderCreated, '{"not json', { headers: traced(poisonTrace) })
      await f.js.publish(SUBJECTS.orderCreated, JSON.stringify(failing), { headers: traced(failingTrace) })
      await waitFor(() => lines.filter((l) => l['msg'] === 'message dead-lettered').length === 2, {
        message: 'both dead letters logged',
      })
    } finally {
      await loop.stop()
    }
    const logged = lines.filter((l) => l['msg'] === 'message dead-lettered')
    expect(logged.map((l) => [l['reason'], l['trace_id'], typeof l['span_id'], l['orderId']])).toStrictEqual([
      ['malformed_json', poisonTrace, 'string', undefined],
      ['max_deliver_exhausted', failingTrace, 'string', failing.orderId],
    ])
    for (const line of logged) expect(line['correlationId']).toMatch(/^corr-/)
  })

  it('stores an empty dead letter when the original left the stream before it was copied', async () => {
    await using f = await startDeadLetterFixture()
    // The advisory stream exists (provisioned), but the capture is down for now.
    const worker = await f.worker('late')
    const seq = await f.publishOrder(orderCreated(), 'corr-late')
    for (let delivery = 1; delivery <= 3; delivery++) await worker.next({ expires: 2_500 })
    await waitFor(async () => (await f.jsm.streams.info(ADVISORY_STREAM)).state.messages === 1, {
      message: 'the advisory kept',
    })
    expect(await f.jsm.streams.deleteMessage(ORDERS, seq)).toBe(true)

    await f.capture('late')
    const letter = await waitFor(
      () => f.jsm.streams.getMessage(DLQ, { last_by_subj: `dlq._missing.${ORDERS}` }),
      { message: 'the bodiless dead letter' },
    )
    expect(letter.data).toHaveLength(0)
    expect(letter.header.get(DEAD_LETTER_HEADERS.reason)).toBe(
      'max_deliver_exhausted: original message no longer in stream',
    )
    expect(letter.header.get(DEAD_LETTER_HEADERS.sequence)).toBe(String(seq))
    expect(letter.header.get(DEAD_LETTER_HEADERS.consumer)).toBe('late')
    expect(letter.header.has(DEAD_LETTER_HEADERS.subject)).toBe(false)
    expect(letter.header.has(HEADERS.correlationId)).toBe(false)
  })

  it('naks the advisory while the dead letter cannot be stored and stores it once it can', async () => {
    await using f = await startDeadLetterFixture()
    const worker = await f.worker('blocked')
    await f.jsm.streams.delete(DLQ)
    await f.capture('blocked', { nakDelayMs: () => 200 })
    const payload = orderCreated()
    await f.publishOrder(payload, 'corr-blocked')
    for (let delivery = 1; delivery <= 3; delivery++) await worker.next({ expires: 2_500 })
    await waitFor(async () => (await f.captured('blocked', 'nak')) >= 2, { message: 'failed attempts naked' })

    await ensureStream(f.jsm, deadLetterStreamConfig(limits))
    const letter = await waitFor(() => f.jsm.streams.getMessage(DLQ, { last_by_subj: DLQ_ORDER_CREATED }), {
      message: 'the dead letter',
    })
    expect(letter.json()).toStrictEqual(payload)
    await waitFor(async () => (await f.captured('blocked', 'dead_letter')) === 1, {
      message: 'the advisory acked',
    })
    expect(await f.dlqCount()).toBe(1)
    const advisory = (await f.jsm.streams.getMessage(ADVISORY_STREAM, { seq: 1 }))?.data ?? new Uint8Array()
    expect(parseAdvisory(advisory)).toMatchObject({
      ok: true,
      advisory: { consumer: 'blocked', deliveries: 2 },
    })
  })

  it('skips an event in a version this code does not read: acked, counted, never dead-lettered', async () => {
    await using f = await startDeadLetterFixture()
    const { handled, loop } = await orderCreatedReader(f, 'reader')
    const known = orderCreated()
    try {
      // A newer producer's event (a shape this version cannot parse), then one it reads.
      const h = createHeaders()
      h.set(HEADERS.eventVersion, '99')
      await f.js.publish(SUBJECTS.orderCreated, JSON.stringify({ version: 99, id: 'x' }), { headers: h })
      await f.publishOrder(known, 'corr-known')
      await waitFor(() => handled.length === 1, { message: 'the known version handled' })
      await waitFor(async () => (await f.jsm.consumers.info(ORDERS, 'reader')).num_ack_pending === 0, {
        message: 'both acked',
      })
    } finally {
      await loop.stop()
    }
    expect(handled).toStrictEqual([known.orderId])
    expect(await f.dlqCount()).toBe(0)
    const { values } = await f.metrics.messagesHandled.get()
    expect(values.find((v) => v.labels.consumer === 'reader' && v.labels.outcome === 'skipped')?.value).toBe(
      1,
    )
  })

  it('never dead-letters on a consumer without a delivery limit (max_deliver -1, as analytics): it retries until the handler succeeds', async () => {
    await using f = await startDeadLetterFixture()
    const durable = 'unlimited'
    const config = durableConsumerConfig(durable, ['orders.>'], { ...limits, maxDeliver: -1 })
    await ensureConsumer(f.jsm, ORDERS, config)
    await f.capture(durable, { nakDelayMs: () => 50 })
    let failures = 0
    const handled: number[] = []
    const loop = await startConsumer({
      ...ordersLoop(f, durable),
      ensureConsumer: () => ensureConsumer(f.jsm, ORDERS, config).then(() => undefined),
      maxDeliver: Number.POSITIVE_INFINITY,
      nakDelayMs: () => 50,
      logger,
      handlers: {
        [SUBJECTS.orderCreated]: (_event, ctx) => {
          if (failures < 2 * limits.maxDeliver + 1) {
            failures++
            return Promise.reject(new Error('maximum bytes exceeded'))
          }
          handled.push(ctx.deliveryCount)
          return Promise.resolve([])
        },
      },
    })
    try {
      await f.publishOrder(orderCreated(), 'corr-unlimited')
      await waitFor(() => handled.length === 1, { message: 'handled at last', timeoutMs: 15_000 })
    } finally {
      await loop.stop()
    }
    expect(handled).toStrictEqual([2 * limits.maxDeliver + 2])
    expect(await f.dlqCount()).toBe(0)
    expect((await f.jsm.consumers.info(ORDERS, durable)).config.max_deliver).toBe(-1)
  })

  describe('a version 1 copy published beside its version 2 twin (the migration window)', () => {
    /** Publishes an order as the intake does in the window: the v1 copy (twinned), and the v2 unless `twin` is false. */
    async function publishWindowOrder(
      f: DeadLetterFixture,
      { twin, cloudEvents = false }: { twin: boolean; cloudEvents?: boolean },
    ) {
      const v1 = orderCreated()
      const ce = (h: ReturnType<typeof createHeaders>) => {
        h.set(HEADERS.correlationId, `corr-${v1.orderId}`)
        if (cloudEvents) h.set(CE_HEADERS.subject, v1.orderId)
        return h
      }
      const copy = ce(createHeaders())
      copy.set(HEADERS.eventVersion, '1')
      copy.set(HEADERS.twinVersion, '2')
      await f.js.publish(SUBJECTS.orderCreated, JSON.stringify(v1), { headers: copy, msgID: v1.orderId })
      if (twin) {
        const h = ce(createHeaders())
        h.set(HEADERS.eventVersion, '2')
        const { customerId, ...rest } = v1
        const v2 = { ...rest, version: 2, customer: { id: customerId } }
        await f.js.publish(SUBJECTS.orderCreated, JSON.stringify(v2), {
          headers: h,
          msgID: `${v1.orderId}:v2`,
        })
      }
      return v1.orderId
    }

    const outcomes = async (f: DeadLetterFixture, durable: string): Promise<Record<string, number>> =>
      Object.fromEntries(
        (await f.metrics.messagesHandled.get()).values
          .filter((v) => v.labels.consumer === durable)
          .map((v): [string, number] => [String(v.labels.outcome), v.value]),
      )

    /** A loop on `durable` noting each orders.created it handles, with `maxDeliver` deliveries a message (the hold spends one). */
    async function versionsLoop(
      f: DeadLetterFixture,
      durable: string,
      { maxDeliver = 3, twinCopies }: { maxDeliver?: number; twinCopies?: 'skip' } = {},
    ) {
      const config = durableConsumerConfig(durable, ['orders.>'], { ...limits, maxDeliver })
      await ensureConsumer(f.jsm, ORDERS, config)
      const handled: { version: number; orderId: string }[] = []
      const loop = await startConsumer({
        ...ordersLoop(f, durable),
        ensureConsumer: () => ensureConsumer(f.jsm, ORDERS, config).then(() => undefined),
        maxDeliver,
        ...(twinCopies === undefined ? {} : { twinCopies }),
        logger,
        handlers: {
          [SUBJECTS.orderCreated]: (event) => {
            handled.push({ version: event.version, orderId: event.orderId })
            return Promise.resolve([])
          },
        },
      })
      return { handled, versions: () => handled.map((h) => h.version), loop }
    }

    it('is handled after TWIN_DEFER_MS when its twin went to another reader (one of the previous release skips it)', async () => {
      await using f = await startDeadLetterFixture()
      const { handled, loop } = await versionsLoop(f, 'fallback')
      const started = performance.now()
      try {
        const orderId = await publishWindowOrder(f, { twin: false })
        await waitFor(() => handled.length === 1, { message: 'the copy handled', timeoutMs: 10_000 })
        expect(handled).toStrictEqual([{ version: 1, orderId }])
        expect(performance.now() - started).toBeGreaterThanOrEqual(TWIN_DEFER_MS - 50)
      } finally {
        await loop.stop()
      }
      expect(await outcomes(f, 'fallback')).toStrictEqual({ deferred: 1, ack: 1 })
      expect(await f.dlqCount()).toBe(0)
    })

    it('with its twin handled here: acked when it comes back, without its handler', async () => {
      await using f = await startDeadLetterFixture()
      const { versions, loop } = await versionsLoop(f, 'here')
      try {
        await publishWindowOrder(f, { twin: true, cloudEvents: true })
        await waitFor(async () => (await outcomes(f, 'here'))['skipped'] === 1, {
          message: 'the copy acked',
          timeoutMs: 10_000,
        })
      } finally {
        await loop.stop()
      }
      expect(versions()).toStrictEqual([2])
      expect(await outcomes(f, 'here')).toStrictEqual({ deferred: 1, skipped: 1, ack: 1 })
    })

    it('with its twin here but no order id in its headers: the twin is handled first, the copy after it (handlers are idempotent per order)', async () => {
      await using f = await startDeadLetterFixture()
      const { versions, loop } = await versionsLoop(f, 'both')
      try {
        await publishWindowOrder(f, { twin: true })
        await waitFor(() => versions().length === 2, { message: 'both handled', timeoutMs: 10_000 })
      } finally {
        await loop.stop()
      }
      expect(versions()).toStrictEqual([2, 1])
      expect(await outcomes(f, 'both')).toStrictEqual({ deferred: 1, ack: 2 })
    })

    it('is handled at once on a consumer with fewer than three deliveries (CONSUMER_MAX_DELIVER=2): the hold would spend one', async () => {
      await using f = await startDeadLetterFixture()
      const { handled, loop } = await versionsLoop(f, 'once', { maxDeliver: 2 })
      try {
        const orderId = await publishWindowOrder(f, { twin: false })
        await waitFor(() => handled.length === 1, { message: 'the copy handled' })
        expect(handled).toStrictEqual([{ version: 1, orderId }])
      } finally {
        await loop.stop()
      }
      expect(await outcomes(f, 'once')).toStrictEqual({ ack: 1 })
    })

    it("with twinCopies 'skip' (a reader that alone reads every message): acked at once, never handled", async () => {
      await using f = await startDeadLetterFixture()
      const { versions, loop } = await versionsLoop(f, 'alone', { twinCopies: 'skip' })
      try {
        await publishWindowOrder(f, { twin: true })
        await waitFor(async () => (await outcomes(f, 'alone'))['skipped'] === 1, {
          message: 'the copy skipped',
        })
        await waitFor(async () => (await f.jsm.consumers.info(ORDERS, 'alone')).num_ack_pending === 0, {
          message: 'both acked',
        })
      } finally {
        await loop.stop()
      }
      expect(versions()).toStrictEqual([2])
      expect(await outcomes(f, 'alone')).toStrictEqual({ skipped: 1, ack: 1 })
    })
  })

  it("dead-letters a direct get's answer, a sourced copy or a dead letter stored on an event subject, and a headerless event: unexpected_origin", async () => {
    await using f = await startDeadLetterFixture()
    const reader = await orderCreatedReader(f, 'origin')
    const [forged, bare, pulled, sourced] = [orderCreated(), orderCreated(), orderCreated(), orderCreated()]
    await plantedThenGenuine(f, reader, 4, async () => {
      // A valid body, stored on the event subject by the server's answer to a
      // direct get whose reply subject was the event's (kept as it arrived):
      // with the headers the server adds, or with none (`no_hdr`).
      const h = createHeaders()
      h.set('Nats-Stream', 'ORDER_INDEX')
      h.set('Nats-Sequence', '29')
      h.set('Nats-Subject', 'oix.forged')
      h.set(HEADERS.correlationId, 'corr-forged')
      await f.js.publish(SUBJECTS.orderCreated, JSON.stringify(forged), { headers: h })
      f.nc.publish(SUBJECTS.orderCreated, JSON.stringify(bare))
      // A dead letter pulled onto the event subject: its Dlq-* headers go with it.
      const letter = createHeaders()
      letter.set(HEADERS.correlationId, 'corr-letter')
      letter.set(DEAD_LETTER_HEADERS.reason, 'unexpected_origin: an earlier copy')
      await f.js.publish(SUBJECTS.orderCreated, JSON.stringify(pulled), { headers: letter })
      // Stored in ORDERS from a source added to its configuration (a stream
      // whose subject transform writes onto the event subject): every header
      // an event carries, and the `Nats-Stream-Source` nats-server adds.
      await f.jsm.streams.add({ name: 'SOURCED', subjects: ['sourced.>'] })
      const orders = await f.jsm.streams.info(ORDERS)
      await f.jsm.streams.update(ORDERS, {
        ...orders.config,
        sources: [
          { name: 'SOURCED', subject_transforms: [{ src: 'sourced.evil', dest: SUBJECTS.orderCreated }] },
        ],
      })
      const copy = createHeaders()
      copy.set(HEADERS.correlationId, 'corr-sourced')
      copy.set(HEADERS.eventVersion, '1')
      copy.set(CE_HEADERS.type, toEventType(SUBJECTS.orderCreated, 1))
      await f.js.publish('sourced.evil', JSON.stringify(sourced), { headers: copy })
    })
    const { values } = await f.metrics.deadLetters.get()
    expect(
      values.filter((v) => v.labels.consumer === 'origin').map((v) => [v.labels.reason, v.value]),
    ).toStrictEqual(
      // Every reason is a series from the consumer's start; only this one counted.
      DEAD_LETTER_REASON_LABELS.map((reason) => [reason, reason === 'unexpected_origin' ? 4 : 0]),
    )
    // None of them is replayed as if it had been published.
    const letters = await listDeadLetters(f.js, f.jsm)
    const copy = letters.find((l) => l.reason.includes('Nats-Stream-Source'))
    expect(copy?.reason).toMatch(/^unexpected_origin: .*Nats-Stream-Source/)
    await expect(replayDeadLetter(f.js, f.jsm, copy?.id ?? 0)).rejects.toThrow(
      /carrying Nats-Stream-Source: a stored copy, not a published event, not replayed/,
    )
  })

  it('dead-letters an event without the headers every publisher sets, or typed as another event, and never replays a headerless original', async () => {
    await using f = await startDeadLetterFixture()
    const reader = await orderCreatedReader(f, 'typed')
    const [idOnly, relabelled] = [orderCreated(), orderCreated()]
    let bareSeq = 0
    await plantedThenGenuine(f, reader, 3, async () => {
      // Headerless, stored with a message id only: what a replay of a headerless copy would be.
      await f.js.publish(SUBJECTS.orderCreated, JSON.stringify(idOnly), { msgID: `x:${idOnly.orderId}` })
      // A stored event of another type, its headers kept, put on orders.created.
      const h = createHeaders()
      h.set(HEADERS.correlationId, 'corr-relabelled')
      h.set(HEADERS.eventVersion, '1')
      h.set(CE_HEADERS.type, toEventType(SUBJECTS.orderCancelRequested, 1))
      await f.js.publish(SUBJECTS.orderCreated, JSON.stringify(relabelled), { headers: h })
      bareSeq = (await f.js.publish(SUBJECTS.orderCreated, JSON.stringify(orderCreated()))).seq
    })
    const letters = await listDeadLetters(f.js, f.jsm)
    expect(letters.map((l) => l.reason)).toStrictEqual([
      'unexpected_origin: an event without X-Correlation-ID and Event-Version: not a published event',
      expect.stringMatching(
        /^unexpected_origin: its ce-type \S+orders\.cancel_requested\.v1 is not orders\.created version 1/,
      ),
      'unexpected_origin: an event without X-Correlation-ID and Event-Version: not a published event',
    ])
    const bare = letters.find((l) => l.stream === ORDERS && l.sequence === bareSeq)
    await expect(replayDeadLetter(f.js, f.jsm, bare?.id ?? 0)).rejects.toThrow(
      /without X-Correlation-ID and Event-Version: not a published event, not replayed/,
    )
  })
})
