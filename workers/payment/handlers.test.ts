import { beforeAll, describe, expect, it } from 'vitest'
import { SUBJECTS } from '../../schemas/subjects.ts'
import { PauseConsumption, type Handler, type MessageContext } from '../../shared/nats/consumer.ts'
import { createLogger } from '../../shared/observability/logger.ts'
import type { OutgoingEvent } from '../../shared/nats/publish.ts'
import { memoryDecisionStore } from '../../shared/saga/decision.ts'
import { CircuitOpenError, GatewayUnavailableError, type ChargeOutcome } from './gateway-client.ts'
import { createPaymentHandlers } from './handlers.ts'
import type { ReconciliationEntry } from './reconciliation.ts'
import {
  createTokenOpener,
  createTokenSealer,
  generateSealingKeyPair,
  type TokenOpener,
} from '../../shared/security/sealed-token.ts'

const at = new Date('2026-01-01T00:00:00.000Z')
const orderId = '0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e6f'
const reserved = {
  version: 1 as const,
  orderId,
  occurredAt: at.toISOString(),
  items: [{ sku: 'A', quantity: 2, unitPriceCents: 500 }],
  amountCents: 1000,
  currency: 'USD',
  sealedPaymentToken: '',
}
let tokens: TokenOpener
beforeAll(async () => {
  const keys = await generateSealingKeyPair()
  tokens = await createTokenOpener([keys.privateJwk])
  reserved.sealedPaymentToken = await (await createTokenSealer(keys.publicJwk)).seal('tok_ok', orderId)
})
const ctx: MessageContext = {
  correlationId: 'c',
  priority: 'standard',
  deliveryCount: 1,
  logger: createLogger({ service: 't', level: 'silent' }),
}

interface Fake {
  /** The first hand-over to reconciliation fails (a KV timeout), the later ones are kept. */
  failReconcileOnce?: boolean
  charge?: (
    request: { token: string; orderId: string },
    trace?: unknown,
    correlationId?: string,
    stillWanted?: () => Promise<boolean>,
    notAfter?: number,
  ) => Promise<ChargeOutcome>
  refund?: (input: { chargeId: string; key: string }) => Promise<{ refundId: string; amountCents: number }>
  maxPauseMs?: number
  opener?: TokenOpener
  now?: () => Date
}

function setup({
  failReconcileOnce = false,
  charge = () => Promise.resolve({ kind: 'succeeded', chargeId: 'ch_1' }),
  refund = ({ chargeId }) => Promise.resolve({ refundId: `re_${chargeId}`, amountCents: 1000 }),
  maxPauseMs = 60_000,
  opener,
  now = () => at,
}: Fake = {}) {
  const decisions = memoryDecisionStore()
  const reconciling: ReconciliationEntry[] = []
  const refunds: { chargeId: string; key: string }[] = []
  const handlers = createPaymentHandlers({
    gateway: {
      charge,
      refund: (input) => {
        refunds.push(input)
        return refund(input)
      },
    },
    decisions,
    reconcile: (entry) => {
      if (failReconcileOnce) {
        failReconcileOnce = false
        return Promise.reject(new Error('TIMEOUT writing the reconciliation entry'))
      }
      reconciling.push(entry)
      return Promise.resolve()
    },
    tokens: opener ?? tokens,
    maxPauseMs,
    now,
  })
  return {
    decisions,
    reconciling,
    refunds,
    pay: handlers[SUBJECTS.inventoryReserved] as Handler<typeof SUBJECTS.inventoryReserved>,
    cancel: handlers[SUBJECTS.orderCancelRequested] as Handler<typeof SUBJECTS.orderCancelRequested>,
  }
}

function handlerWith(
  charge: (request: { token: string }) => Promise<ChargeOutcome>,
  maxPauseMs = 60_000,
  opener: TokenOpener = tokens,
) {
  return setup({ charge, maxPauseMs, opener }).pay
}

const subjects = (events: readonly OutgoingEvent[]) => events.map((e) => e.subject)

/** A promise the test settles by hand: what a charge in flight waits on until `release()`. */
function gate(): { wait: Promise<void>; release: () => void } {
  let release: () => void = () => undefined
  const wait = new Promise<void>((resolve) => {
    release = resolve
  })
  return { wait, release }
}
const cancelRequest = (reason: 'customer_request' | 'deadline_exceeded') => ({
  version: 1 as const,
  orderId,
  occurredAt: at.toISOString(),
  reason,
})

describe('payment handler', () => {
  it('publishes payments.completed with the charge id', async () => {
    const events = await handlerWith(() => Promise.resolve({ kind: 'succeeded', chargeId: 'ch_1' }))(
      reserved,
      ctx,
    )
    expect(events).toStrictEqual([
      {
        subject: SUBJECTS.paymentCompleted,
        msgId: `${SUBJECTS.paymentCompleted}:${reserved.orderId}`,
        payload: {
          version: 1,
          orderId: reserved.orderId,
          occurredAt: at.toISOString(),
          chargeId: 'ch_1',
          amountCents: 1000,
          currency: 'USD',
        },
      },
    ])
  })

  it('publishes payments.failed declined after a decline', async () => {
    const declined = () => Promise.resolve<ChargeOutcome>({ kind: 'declined', code: 'card_declined' })
    const { pay, reconciling } = setup({ charge: declined })
    const events = await pay(reserved, ctx)
    expect(events.map((e) => [e.subject, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.paymentFailed, 'declined'],
    ])
    expect(reconciling).toStrictEqual([])
  })

  it('never guesses: an unresolved charge cancels the order and hands the key to reconciliation', async () => {
    const { pay, reconciling, decisions } = setup({
      charge: () => Promise.resolve({ kind: 'unresolved', detail: 'no answer' }),
    })
    const events = await pay(reserved, ctx)
    expect(events.map((e) => e.payload)).toMatchObject([{ reason: 'gateway_unavailable', unresolved: true }])
    expect(reconciling).toMatchObject([{ orderId, kind: 'charge', amountCents: 1000 }])
    expect(decisions.records.get(orderId)?.payment?.state).toBe('unresolved')
    // A redelivery repeats the outcome; it never charges again.
    const again = await pay(reserved, ctx)
    expect(subjects(again)).toStrictEqual([SUBJECTS.paymentFailed])
  })

  it('says payments.failed again when an unresolved order is asked to cancel (its first publish may be lost)', async () => {
    const { pay, cancel, decisions } = setup({
      charge: () => Promise.resolve({ kind: 'unresolved', detail: 'no answer' }),
    })
    const [failed] = await pay(reserved, ctx)
    // The delivery's publish was lost and its message dead-lettered: the
    // deadline, or a customer, is what comes next. Only payments.failed
    // releases the order's stock, and the order did end payment_failed.
    for (const reason of ['deadline_exceeded', 'customer_request'] as const) {
      const events = await cancel(cancelRequest(reason), ctx)
      expect(subjects(events)).toStrictEqual([SUBJECTS.paymentFailed])
      expect(events[0]?.msgId).toBe(failed?.msgId)
    }
    expect(decisions.records.get(orderId)?.payment?.state).toBe('unresolved')
  })

  it("keeps an express order's lane on its reconciliation entry (its refund is announced there)", async () => {
    const { pay, reconciling } = setup({
      charge: () => Promise.resolve({ kind: 'unresolved', detail: 'no answer' }),
    })
    await pay(reserved, { ...ctx, priority: 'express' })
    expect(reconciling.map((e) => e.priority)).toStrictEqual(['express'])
    const standard = setup({ charge: () => Promise.resolve({ kind: 'unresolved', detail: 'no answer' }) })
    await standard.pay(reserved, ctx)
    expect(standard.reconciling.map((e) => 'priority' in e)).toStrictEqual([false])
  })

  it('resumes a charge a crashed delivery left in flight under the same key', async () => {
    const keys: string[] = []
    const { pay, decisions } = setup({
      charge: (request) => {
        keys.push(request.orderId)
        return Promise.resolve({ kind: 'succeeded', chargeId: 'ch_1' })
      },
    })
    await decisions.update(orderId, () => ({
      value: {
        orderId,
        decision: 'paying',
        decidedBy: 'payment',
        decidedAt: at.toISOString(),
        updatedAt: at.toISOString(),
        payment: { state: 'charging', amountCents: 1000, currency: 'USD' },
      },
      result: undefined,
    }))
    expect(subjects(await pay(reserved, ctx))).toStrictEqual([SUBJECTS.paymentCompleted])
    expect(keys).toStrictEqual([orderId])
    // Settled: a further redelivery only repeats the event.
    expect(subjects(await pay(reserved, ctx))).toStrictEqual([SUBJECTS.paymentCompleted])
    expect(keys).toHaveLength(1)
  })

  it('holds the message while the breaker is open, then leaves it unresolved past the pause budget', async () => {
    const open = () => Promise.reject(new CircuitOpenError('open'))
    await expect(handlerWith(open)(reserved, ctx)).rejects.toBeInstanceOf(PauseConsumption)
    const impatient = setup({ charge: open, maxPauseMs: 0 })
    const events = await impatient.pay(reserved, ctx)
    expect(events.map((e) => e.payload)).toMatchObject([{ reason: 'gateway_unavailable', unresolved: true }])
    expect(impatient.reconciling).toHaveLength(1)
  })

  it('holds an order while the breaker is open no longer than its deadline, then cancels it deadline_exceeded', async () => {
    let clock = at.getTime()
    let calls = 0
    const held = setup({
      charge: () => {
        calls++
        return Promise.reject(new CircuitOpenError('open'))
      },
      now: () => new Date(clock),
    })
    const due = { ...reserved, deadlineAt: new Date(at.getTime() + 1_000).toISOString() }
    const pause = (await held.pay(due, ctx).catch((error: unknown) => error)) as PauseConsumption
    expect(pause).toBeInstanceOf(PauseConsumption)
    // Handled again at the deadline (1 s away) even if the breaker stays open (test/consumer-pause.test.ts).
    expect(pause.resumeAt).toBeGreaterThan(Date.now() + 500)
    expect(pause.resumeAt).toBeLessThanOrEqual(Date.now() + 1_000)
    clock += 5_000
    // Handled again past the deadline: no attempt (the breaker's or the processor's); the deadline's cancellation.
    const events = await held.pay(due, ctx)
    expect(events.map((e) => [e.subject, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.orderCancelled, 'deadline_exceeded'],
    ])
    expect(calls).toBe(1)
    expect(held.reconciling.map((e) => [e.kind, e.reason])).toStrictEqual([['charge', 'deadline_exceeded']])
  })

  it('sends no attempt for a charge begun before the deadline and handled again after it; cancelled and reconciled', async () => {
    // The processor refused the first attempt (503: the breaker opened), the
    // worker was killed, and its redelivery comes after the deadline, before
    // the deadline's own request (queued behind it on the same consumer).
    let clock = at.getTime()
    const attempts: string[] = []
    const { pay, cancel, decisions, reconciling } = setup({
      charge: (request) => {
        attempts.push(request.orderId)
        return clock < at.getTime() + 1_000
          ? Promise.reject(new Error('crashed mid-charge'))
          : Promise.resolve({ kind: 'succeeded', chargeId: 'ch_after_deadline' })
      },
      now: () => new Date(clock),
    })
    const due = { ...reserved, deadlineAt: new Date(at.getTime() + 1_000).toISOString() }
    await expect(pay(due, ctx)).rejects.toThrow('crashed mid-charge')
    expect(decisions.records.get(orderId)?.payment?.state).toBe('charging')
    clock += 60_000
    const events = await pay(due, { ...ctx, deliveryCount: 2 })
    expect(events.map((e) => [e.subject, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.orderCancelled, 'deadline_exceeded'],
    ])
    expect(attempts).toHaveLength(1)
    expect(decisions.records.get(orderId)).toMatchObject({
      reason: 'deadline_exceeded',
      payment: { state: 'unresolved', cancelRequested: 'deadline_exceeded' },
    })
    expect(reconciling.map((e) => [e.kind, e.reason])).toStrictEqual([['charge', 'deadline_exceeded']])
    // The deadline's request, handled next, repeats the same cancellation.
    expect(
      (await cancel(cancelRequest('deadline_exceeded'), ctx)).map((e) => [
        e.subject,
        (e.payload as { reason?: string }).reason,
      ]),
    ).toStrictEqual([[SUBJECTS.orderCancelled, 'deadline_exceeded']])
    expect(attempts).toHaveLength(1)
  })

  it('charges the token opened from the sealed one, never the sealed text', async () => {
    const seen: string[] = []
    await handlerWith((request) => {
      seen.push(request.token)
      return Promise.resolve({ kind: 'succeeded', chargeId: 'ch_1' })
    })(reserved, ctx)
    expect(seen).toStrictEqual(['tok_ok'])
  })

  it('declines a token sealed for another order without calling the gateway', async () => {
    let calls = 0
    const charge = () => {
      calls++
      return Promise.resolve<ChargeOutcome>({ kind: 'succeeded', chargeId: 'ch_1' })
    }
    const moved = { ...reserved, orderId: '0b7d4c1e-8f3a-4d2b-9c6e-1a2b3c4d5e70' }
    const events = await handlerWith(charge)(moved, ctx)
    expect(events.map((e) => [e.subject, (e.payload as { message?: string }).message])).toStrictEqual([
      [SUBJECTS.paymentFailed, 'invalid_payment_token'],
    ])
    expect(calls).toBe(0)
  })

  it('retries (throws) when the token was sealed for a key this service does not hold', async () => {
    const stranger = await createTokenOpener([(await generateSealingKeyPair()).privateJwk])
    const charge = () => Promise.resolve<ChargeOutcome>({ kind: 'succeeded', chargeId: 'ch_1' })
    await expect(handlerWith(charge, 60_000, stranger)(reserved, ctx)).rejects.toThrow(/no private key/)
  })

  it('lets an unexpected error through for a nak', async () => {
    await expect(handlerWith(() => Promise.reject(new Error('bug')))(reserved, ctx)).rejects.toThrow('bug')
  })
})

describe('payment cancellations and deadlines', () => {
  it('cancels an order before its reservation reaches payment: no charge ever starts', async () => {
    let charges = 0
    const { pay, cancel } = setup({
      charge: () => {
        charges++
        return Promise.resolve({ kind: 'succeeded', chargeId: 'ch_1' })
      },
    })
    const cancelled = await cancel(cancelRequest('customer_request'), ctx)
    expect(cancelled.map((e) => [e.subject, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.orderCancelled, 'customer_request'],
    ])
    expect(subjects(await pay(reserved, ctx))).toStrictEqual([SUBJECTS.orderCancelled])
    expect(charges).toBe(0)
  })

  it('refunds a confirmed order a customer cancels, once however often asked', async () => {
    const { pay, cancel, refunds, decisions } = setup()
    expect(subjects(await pay(reserved, ctx))).toStrictEqual([SUBJECTS.paymentCompleted])
    const events = await cancel(cancelRequest('customer_request'), ctx)
    expect(subjects(events)).toStrictEqual([SUBJECTS.paymentRefunded, SUBJECTS.orderCancelled])
    expect(events[1]?.payload).toMatchObject({ reason: 'customer_request', refundId: 're_ch_1' })
    expect(refunds).toStrictEqual([{ chargeId: 'ch_1', key: `refund:${orderId}`, correlationId: 'c' }])
    expect(decisions.records.get(orderId)?.payment).toMatchObject({ state: 'refunded', refundId: 're_ch_1' })
    // Asked again (the first delivery's publish failed, or a redelivery): no
    // second refund; the refund and the cancellation are said again, the same
    // (their message ids make them once).
    const again = await cancel(cancelRequest('customer_request'), ctx)
    expect(subjects(again)).toStrictEqual([SUBJECTS.paymentRefunded, SUBJECTS.orderCancelled])
    expect(again.map((e) => e.payload)).toStrictEqual(events.map((e) => e.payload))
    expect(again.map((e) => e.msgId)).toStrictEqual(events.map((e) => e.msgId))
    // And by a redelivered inventory.reserved.
    const repeated = await pay(reserved, { ...ctx, deliveryCount: 2 })
    expect(repeated.map((e) => e.payload)).toStrictEqual(events.map((e) => e.payload))
    expect(refunds).toHaveLength(1)
  })

  it('logs one refund at info when concurrent cancellations each ask the gateway', async () => {
    const refunding = gate()
    const { pay, cancel, refunds } = setup({
      refund: async ({ chargeId }) => {
        await refunding.wait
        return { refundId: `re_${chargeId}`, amountCents: 1000 }
      },
    })
    await pay(reserved, ctx)
    const lines: { level: string; msg: string }[] = []
    const logger = createLogger({
      service: 't',
      level: 'debug',
      destination: {
        write: (line: string) => void lines.push(JSON.parse(line) as { level: string; msg: string }),
      },
    })
    const both = Promise.all([
      cancel(cancelRequest('customer_request'), { ...ctx, logger }),
      cancel(cancelRequest('customer_request'), { ...ctx, logger }),
    ])
    await new Promise((resolve) => setTimeout(resolve, 10))
    refunding.release()
    const [first, second] = await both
    // Both asked, under one key and for one charge: one refund at the processor.
    expect(refunds.map(({ chargeId, key }) => ({ chargeId, key }))).toStrictEqual([
      { chargeId: 'ch_1', key: `refund:${orderId}` },
      { chargeId: 'ch_1', key: `refund:${orderId}` },
    ])
    expect(first.map((e) => e.msgId)).toStrictEqual(second.map((e) => e.msgId))
    const said = (msg: string) => lines.filter((l) => l.msg === msg).map((l) => l.level)
    expect(said('charge refunded; order cancelled')).toStrictEqual(['info'])
    expect(said('charge refund already recorded by a concurrent cancellation')).toStrictEqual(['debug'])
  })

  it('cancels an order reconciliation refunded before the cancellation was published (its delivery stopped first)', async () => {
    const { pay, cancel, decisions, refunds } = setup()
    await pay(reserved, ctx)
    // The delivery of the customer's request marked the refund, handed it to
    // reconciliation and stopped before publishing; reconciliation refunded it
    // (workers/payment/reconciliation.ts writes `refunded` and publishes only
    // payments.refunded).
    await decisions.update(orderId, (current) => {
      if (current?.payment === undefined) throw new Error('no payment')
      const value = {
        ...current,
        reason: 'customer_request' as const,
        payment: { ...current.payment, state: 'refunded' as const, refundId: 're_reconciled' },
      }
      return { value, result: undefined }
    })
    const events = await cancel(cancelRequest('customer_request'), { ...ctx, deliveryCount: 2 })
    expect(subjects(events)).toStrictEqual([SUBJECTS.paymentRefunded, SUBJECTS.orderCancelled])
    expect(events[0]?.payload).toMatchObject({
      chargeId: 'ch_1',
      refundId: 're_reconciled',
      amountCents: reserved.amountCents,
      reason: 'customer_request',
    })
    expect(events[1]?.payload).toMatchObject({ reason: 'customer_request', refundId: 're_reconciled' })
    // And a deadline that fires later says the same, with the customer's reason.
    const late = await cancel(cancelRequest('deadline_exceeded'), ctx)
    expect(late.map((e) => e.payload)).toStrictEqual(events.map((e) => e.payload))
    expect(refunds).toStrictEqual([])
  })

  it('says payments.failed again for an order whose late charge reconciliation refunded, never a cancellation', async () => {
    const { pay, cancel, decisions } = setup({
      charge: () => Promise.resolve({ kind: 'unresolved', detail: 'silent' }),
    })
    const [failed] = await pay(reserved, ctx)
    expect(failed?.subject).toBe(SUBJECTS.paymentFailed)
    // Reconciliation found the charge and refunded it (no cancellation was ever asked for).
    await decisions.update(orderId, (current) => {
      if (current?.payment === undefined) throw new Error('no payment')
      const value = {
        ...current,
        payment: { ...current.payment, state: 'refunded' as const, chargeId: 'ch_late', refundId: 're_late' },
      }
      return { value, result: undefined }
    })
    // The first payments.failed may never have left (its publish failed, the
    // worker died): the redelivered inventory.reserved, a customer's
    // cancellation and the deadline each say it again, under its first id,
    // and none says orders.cancelled.
    for (const events of [
      await pay(reserved, { ...ctx, deliveryCount: 2 }),
      await cancel(cancelRequest('customer_request'), ctx),
      await cancel(cancelRequest('deadline_exceeded'), ctx),
    ]) {
      expect(subjects(events)).toStrictEqual([SUBJECTS.paymentFailed])
      expect(events[0]?.msgId).toBe(failed?.msgId)
      expect(events[0]?.payload).toMatchObject({ reason: 'gateway_unavailable', unresolved: true })
    }
  })

  it('keeps a confirmed order when its deadline fires, and says its payments.completed again', async () => {
    let charges = 0
    const { pay, cancel, refunds } = setup({
      charge: () => {
        charges++
        return Promise.resolve({ kind: 'succeeded', chargeId: 'ch_1' })
      },
    })
    const [completed] = await pay(reserved, ctx)
    expect(completed?.subject).toBe(SUBJECTS.paymentCompleted)
    // That publish may have been lost with a dead-lettered delivery: the deadline says it again, under its id.
    const again = await cancel(cancelRequest('deadline_exceeded'), ctx)
    expect(subjects(again)).toStrictEqual([SUBJECTS.paymentCompleted])
    expect(again[0]?.msgId).toBe(completed?.msgId)
    expect(again[0]?.payload).toMatchObject({
      orderId,
      chargeId: (completed?.payload as { chargeId: string }).chargeId,
      amountCents: reserved.amountCents,
      currency: reserved.currency,
    })
    expect(refunds).toStrictEqual([])
    expect(charges).toBe(1)
  })

  it('says payments.failed again for a declined order, at its deadline or a cancellation', async () => {
    const { pay, cancel, refunds } = setup({
      charge: () => Promise.resolve({ kind: 'declined', code: 'card_declined' }),
    })
    const [failed] = await pay(reserved, ctx)
    expect(failed?.subject).toBe(SUBJECTS.paymentFailed)
    for (const reason of ['deadline_exceeded', 'customer_request'] as const) {
      const again = await cancel(cancelRequest(reason), ctx)
      expect(subjects(again)).toStrictEqual([SUBJECTS.paymentFailed])
      expect(again[0]?.msgId).toBe(failed?.msgId)
      expect(again[0]?.payload).toMatchObject({ orderId, reason: 'declined' })
    }
    expect(refunds).toStrictEqual([])
  })

  it("refunds at its deadline a charged order whose customer's cancellation waited on the charge", async () => {
    const { pay, cancel, decisions, refunds } = setup()
    await pay(reserved, ctx)
    // The delivery that settled the charge stopped before it applied the waiting cancellation.
    await decisions.update(orderId, (current) => {
      if (current?.payment === undefined) throw new Error('no payment')
      return {
        value: { ...current, payment: { ...current.payment, cancelRequested: 'customer_request' as const } },
        result: undefined,
      }
    })
    const events = await cancel(cancelRequest('deadline_exceeded'), ctx)
    expect(subjects(events)).toStrictEqual([SUBJECTS.paymentRefunded, SUBJECTS.orderCancelled])
    expect(events[1]?.payload).toMatchObject({ reason: 'customer_request' })
    expect(refunds).toHaveLength(1)
  })

  it('applies a cancellation that arrives while the charge is in flight once it settles: refunded', async () => {
    const { wait: inFlight, release } = gate()
    const { pay, cancel, refunds } = setup({
      charge: async () => {
        await inFlight
        return { kind: 'succeeded', chargeId: 'ch_race' }
      },
    })
    const paying = pay(reserved, ctx)
    await new Promise((r) => setTimeout(r, 10))
    expect(await cancel(cancelRequest('customer_request'), ctx)).toStrictEqual([])
    release()
    const events = await paying
    expect(subjects(events)).toStrictEqual([SUBJECTS.paymentRefunded, SUBJECTS.orderCancelled])
    expect(refunds).toStrictEqual([{ chargeId: 'ch_race', key: `refund:${orderId}`, correlationId: 'c' }])
  })

  /** The order cancelled as its customer asked, its charge left unresolved and handed to reconciliation. */
  const expectCancelledUnresolved = (
    events: readonly OutgoingEvent[],
    decisions: ReturnType<typeof setup>['decisions'],
    reconciling: ReturnType<typeof setup>['reconciling'],
  ) => {
    expect(events.map((e) => [e.subject, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.orderCancelled, 'customer_request'],
    ])
    expect(decisions.records.get(orderId)).toMatchObject({
      reason: 'customer_request',
      payment: { state: 'unresolved', cancelRequested: 'customer_request' },
    })
    expect(reconciling.map((e) => [e.kind, e.reason])).toStrictEqual([['charge', 'customer_request']])
  }

  it('ends cancelled customer_request when a cancellation waited on a charge left unresolved, and reconciles it', async () => {
    const { wait: inFlight, release } = gate()
    const { pay, cancel, decisions, reconciling, refunds } = setup({
      charge: async () => {
        await inFlight
        return { kind: 'unresolved', detail: 'no answer within the settle budget' }
      },
    })
    const paying = pay(reserved, ctx)
    await new Promise((r) => setTimeout(r, 10))
    expect(await cancel(cancelRequest('customer_request'), ctx)).toStrictEqual([])
    release()
    expectCancelledUnresolved(await paying, decisions, reconciling)
    expect(refunds).toStrictEqual([])
    // A redelivery says the same again.
    expect(subjects(await pay(reserved, { ...ctx, deliveryCount: 2 }))).toStrictEqual([
      SUBJECTS.orderCancelled,
    ])
  })

  it("cancels at once a charge still unsettled when a customer asks after the order's deadline", async () => {
    // The delivery charging it, and the deadline's own request, were dead-lettered: nothing else settles it.
    const { wait, release } = gate()
    let clock = at
    const { pay, cancel, decisions, reconciling } = setup({
      charge: async () => {
        await wait
        return { kind: 'unresolved', detail: 'no answer' }
      },
      now: () => clock,
    })
    const paying = pay({ ...reserved, deadlineAt: new Date(at.getTime() + 1_000).toISOString() }, ctx)
    await new Promise((r) => setTimeout(r, 10))
    expect(decisions.records.get(orderId)).toMatchObject({ payment: { state: 'charging' } })
    // Before the deadline a customer's request waits on the charge, as before.
    expect(await cancel(cancelRequest('customer_request'), ctx)).toStrictEqual([])
    clock = new Date(at.getTime() + 2_000)
    expectCancelledUnresolved(await cancel(cancelRequest('customer_request'), ctx), decisions, reconciling)
    release()
    await paying
  })

  it('starts no charge for an order past its deadline', async () => {
    let charges = 0
    const late = setup({
      charge: () => {
        charges++
        return Promise.resolve({ kind: 'succeeded', chargeId: 'ch_1' })
      },
      now: () => new Date(at.getTime() + 60_000),
    })
    const events = await late.pay(
      { ...reserved, deadlineAt: new Date(at.getTime() + 1_000).toISOString() },
      ctx,
    )
    expect(events.map((e) => [e.subject, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.orderCancelled, 'deadline_exceeded'],
    ])
    expect(charges).toBe(0)
  })

  it('gives the processor client the deadline, and cancels the order when the deadline passed before the attempt', async () => {
    const deadlineAt = new Date(at.getTime() + 1_000).toISOString()
    let clock = at.getTime()
    const given: (number | undefined)[] = []
    const waited = setup({
      // As the client answers when the waits before the first attempt outlast the deadline.
      charge: (_request, _trace, _correlationId, _stillWanted, notAfter) => {
        given.push(notAfter)
        clock += 2_000
        return Promise.resolve<ChargeOutcome>({
          kind: 'unresolved',
          detail: "the order's deadline passed after 0 attempt(s); no new attempt sent (no attempt)",
        })
      },
      now: () => new Date(clock),
    })
    const events = await waited.pay({ ...reserved, deadlineAt }, ctx)
    expect(given).toStrictEqual([Date.parse(deadlineAt)])
    expect(events.map((e) => [e.subject, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.orderCancelled, 'deadline_exceeded'],
    ])
    expect(waited.reconciling).toMatchObject([{ orderId, kind: 'charge', reason: 'deadline_exceeded' }])
  })

  it('leaves a refund the processor cannot take now to reconciliation, and cancels the order', async () => {
    const { pay, cancel, reconciling } = setup({
      refund: () => Promise.reject(new GatewayUnavailableError('down')),
    })
    await pay(reserved, ctx)
    const events = await cancel(cancelRequest('customer_request'), ctx)
    expect(subjects(events)).toStrictEqual([SUBJECTS.orderCancelled])
    expect(reconciling).toMatchObject([
      { orderId, kind: 'refund', chargeId: 'ch_1', reason: 'customer_request' },
    ])
  })
})

describe('a payment decision that outlives or races its delivery', () => {
  const deadlineRequest = cancelRequest('deadline_exceeded')
  // Read when a test runs: the sealed token is made in beforeAll.
  const order = () => ({ ...reserved, deadlineAt: new Date(at.getTime() + 60_000).toISOString() })

  it('hands an unresolved charge to reconciliation again when the first hand-over failed', async () => {
    const { pay, decisions, reconciling } = setup({
      failReconcileOnce: true,
      charge: () => Promise.resolve<ChargeOutcome>({ kind: 'unresolved', detail: 'no answer' }),
    })
    await expect(pay(order(), ctx)).rejects.toThrow(/TIMEOUT/)
    expect(decisions.records.get(orderId)?.payment?.state).toBe('unresolved')
    // The redelivery finds `unresolved`: it says so again and makes sure the key is checked.
    expect(subjects(await pay(order(), { ...ctx, deliveryCount: 2 }))).toStrictEqual([SUBJECTS.paymentFailed])
    expect(reconciling).toMatchObject([
      { orderId, kind: 'charge', reason: 'reconciliation', amountCents: 1000 },
    ])
  })

  it('cancels at its deadline an order whose charging delivery was dead-lettered, and reconciles the key', async () => {
    const { pay, cancel, decisions, reconciling } = setup({
      // A fault no retry cures (a key rotation done in the wrong order): every delivery throws.
      charge: () => Promise.reject(new Error('gateway refused the secret key (401)')),
    })
    for (let d = 1; d <= 3; d++)
      await expect(pay(order(), { ...ctx, deliveryCount: d })).rejects.toThrow(/401/)
    expect(decisions.records.get(orderId)?.payment?.state).toBe('charging')
    const events = await cancel(deadlineRequest, ctx)
    expect(events.map((e) => [e.subject, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.orderCancelled, 'deadline_exceeded'],
    ])
    expect(decisions.records.get(orderId)).toMatchObject({
      reason: 'deadline_exceeded',
      payment: { state: 'unresolved' },
    })
    expect(reconciling).toMatchObject([{ orderId, kind: 'charge', reason: 'deadline_exceeded' }])
    // A replay of the dead letter later charges nothing and repeats the cancellation.
    expect(subjects(await pay(order(), { ...ctx, deliveryCount: 1 }))).toStrictEqual([
      SUBJECTS.orderCancelled,
    ])
  })

  it('makes the reconciliation entry on the redelivery of a deadline whose first hand-over failed', async () => {
    const { pay, cancel, decisions, reconciling } = setup({
      failReconcileOnce: true,
      charge: () => Promise.reject(new Error('gateway refused the secret key (401)')),
    })
    await expect(pay(order(), ctx)).rejects.toThrow(/401/)
    await expect(cancel(deadlineRequest, ctx)).rejects.toThrow(/TIMEOUT/)
    expect(decisions.records.get(orderId)?.payment?.state).toBe('unresolved')
    const again = await cancel(deadlineRequest, { ...ctx, deliveryCount: 2 })
    expect(again.map((e) => [e.subject, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.orderCancelled, 'deadline_exceeded'],
    ])
    expect(reconciling).toMatchObject([{ orderId, kind: 'charge', reason: 'deadline_exceeded' }])
  })

  it("keeps a customer's cancellation that waited on the charge as the reason when the deadline decides", async () => {
    const { pay, cancel, reconciling } = setup({
      charge: () => Promise.reject(new Error('gateway refused the secret key (401)')),
    })
    await expect(pay(order(), ctx)).rejects.toThrow(/401/)
    expect(await cancel(cancelRequest('customer_request'), ctx)).toStrictEqual([])
    const events = await cancel(deadlineRequest, ctx)
    expect(events.map((e) => [e.subject, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.orderCancelled, 'customer_request'],
    ])
    expect(reconciling).toMatchObject([{ orderId, kind: 'charge', reason: 'customer_request' }])
  })

  it('keeps the decision a charge in flight finds when it settles: no confirmation of a cancelled order', async () => {
    const { wait: inFlight, release } = gate()
    const { pay, cancel, decisions, reconciling, refunds } = setup({
      charge: async () => {
        await inFlight
        return { kind: 'succeeded', chargeId: 'ch_late' }
      },
    })
    const paying = pay(order(), ctx)
    await new Promise((r) => setTimeout(r, 10))
    // The deadline comes while the processor has not answered yet.
    expect(subjects(await cancel(deadlineRequest, ctx))).toStrictEqual([SUBJECTS.orderCancelled])
    release()
    // The charge went through after all: the order stays cancelled, and the
    // reconciliation entry (not this delivery) refunds what it took.
    expect(subjects(await paying)).toStrictEqual([SUBJECTS.orderCancelled])
    expect(decisions.records.get(orderId)?.payment?.state).toBe('unresolved')
    expect(refunds).toStrictEqual([])
    expect(reconciling.map((e) => e.kind)).toStrictEqual(['charge', 'charge'])
  })

  it('asks before each retry whether the order still waits on the charge: not once its deadline cancelled it', async () => {
    const { wait: retryDue, release } = gate()
    const answers: boolean[] = []
    const { pay, cancel, decisions, reconciling } = setup({
      // The processor answered 503 (nothing written); the next attempt is due after the backoff.
      charge: async (_request, _trace, _correlationId, stillWanted) => {
        const ask = async () => {
          answers.push((await stillWanted?.()) ?? true)
          return answers.at(-1)
        }
        await ask()
        await retryDue
        if (!(await ask())) return { kind: 'unresolved', detail: 'decided; no new attempt sent' }
        return { kind: 'succeeded', chargeId: 'ch_after_deadline' }
      },
    })
    const paying = pay(order(), ctx)
    await new Promise((r) => setTimeout(r, 10))
    expect(subjects(await cancel(deadlineRequest, ctx))).toStrictEqual([SUBJECTS.orderCancelled])
    release()
    expect(subjects(await paying)).toStrictEqual([SUBJECTS.orderCancelled])
    // Still charging before the deadline; decided (unresolved, reconciled) after it.
    expect(answers).toStrictEqual([true, false])
    expect(decisions.records.get(orderId)?.payment?.state).toBe('unresolved')
    expect(reconciling.map((e) => e.kind)).toStrictEqual(['charge', 'charge'])
  })

  it("sends no new attempt once a customer's cancellation waits on the charge; reconciliation settles the key", async () => {
    const { wait: retryDue, release } = gate()
    const answers: boolean[] = []
    const { pay, cancel, decisions, reconciling, refunds } = setup({
      charge: async (_request, _trace, _correlationId, stillWanted) => {
        await retryDue
        answers.push((await stillWanted?.()) ?? true)
        if (answers.at(-1) === false) return { kind: 'unresolved', detail: 'decided; no new attempt sent' }
        return { kind: 'succeeded', chargeId: 'ch_after_cancel' }
      },
    })
    const paying = pay(order(), ctx)
    await new Promise((r) => setTimeout(r, 10))
    expect(await cancel(cancelRequest('customer_request'), ctx)).toStrictEqual([])
    release()
    expect((await paying).map((e) => [e.subject, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.orderCancelled, 'customer_request'],
    ])
    expect(answers).toStrictEqual([false])
    expect(decisions.records.get(orderId)).toMatchObject({
      reason: 'customer_request',
      payment: { state: 'unresolved', cancelRequested: 'customer_request' },
    })
    expect(reconciling.map((e) => [e.kind, e.reason])).toStrictEqual([['charge', 'customer_request']])
    expect(refunds).toStrictEqual([])
  })

  it('starts no attempt on a message held while the breaker was open, once the customer cancelled meanwhile', async () => {
    let breakerOpen = true
    const calls: string[] = []
    const { pay, cancel, decisions, reconciling } = setup({
      charge: (request) => {
        calls.push(request.orderId)
        return breakerOpen
          ? Promise.reject(new CircuitOpenError('open'))
          : Promise.resolve({ kind: 'succeeded', chargeId: 'ch_after_cancel' })
      },
    })
    await expect(pay(order(), ctx)).rejects.toBeInstanceOf(PauseConsumption)
    expect(await cancel(cancelRequest('customer_request'), ctx)).toStrictEqual([])
    breakerOpen = false
    // The held message is handled again when the breaker closes.
    const events = await pay(order(), ctx)
    expect(events.map((e) => [e.subject, (e.payload as { reason?: string }).reason])).toStrictEqual([
      [SUBJECTS.orderCancelled, 'customer_request'],
    ])
    expect(calls).toHaveLength(1)
    expect(decisions.records.get(orderId)?.payment?.state).toBe('unresolved')
    expect(reconciling.map((e) => [e.kind, e.reason])).toStrictEqual([['charge', 'customer_request']])
  })

  it('lets the retry go when the decision cannot be read in time', async () => {
    const decisions = memoryDecisionStore()
    const answers: [boolean, number][] = []
    const pay = createPaymentHandlers({
      gateway: {
        charge: async (_request, _trace, _correlationId, stillWanted) => {
          const started = Date.now()
          answers.push([(await stillWanted?.()) ?? false, Date.now() - started])
          return { kind: 'succeeded', chargeId: 'ch_slow_read' }
        },
        refund: () => Promise.reject(new Error('no refund expected')),
      },
      // A read that never answers (NATS stalled): the charge's claim and settle still write.
      decisions: { ...decisions, read: () => new Promise(() => undefined) },
      reconcile: () => Promise.resolve(),
      tokens,
      maxPauseMs: 60_000,
      now: () => at,
    })[SUBJECTS.inventoryReserved] as Handler<typeof SUBJECTS.inventoryReserved>
    expect(subjects(await pay(order(), ctx))).toStrictEqual([SUBJECTS.paymentCompleted])
    expect(answers).toHaveLength(1)
    expect(answers[0]?.[0]).toBe(true)
    expect(answers[0]?.[1]).toBeGreaterThanOrEqual(450)
    expect(answers[0]?.[1]).toBeLessThan(2_000)
  })

  it('does not overwrite an unresolved decision with a later delivery’s charge', async () => {
    let call = 0
    const { wait: later, release } = gate()
    const { pay, decisions, reconciling } = setup({
      charge: async () => {
        call++
        if (call === 2) return { kind: 'unresolved', detail: 'no answer within the budget' }
        await later
        return { kind: 'succeeded', chargeId: 'ch_late' }
      },
    })
    // Two deliveries of one inventory.reserved at once (an ack wait lapsed): B waits on the
    // processor, A gives up first.
    const b = pay(order(), { ...ctx, deliveryCount: 2 })
    await new Promise((r) => setTimeout(r, 10))
    expect(subjects(await pay(order(), ctx))).toStrictEqual([SUBJECTS.paymentFailed])
    release()
    expect(subjects(await b)).toStrictEqual([SUBJECTS.paymentFailed])
    expect(decisions.records.get(orderId)?.payment?.state).toBe('unresolved')
    expect(reconciling.length).toBeGreaterThan(0)
  })
})
