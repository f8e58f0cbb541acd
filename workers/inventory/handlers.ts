import {
  upcastOrderCreated,
  type EventOf,
  type InventoryReleased,
  type OrderCancelled,
  type OrderCreated,
} from '../../schemas/events.ts'
import type { OrderItem, PricedItem } from '../../schemas/primitives.ts'
import { deadlineMsgId, SUBJECTS, type Priority } from '../../schemas/subjects.ts'
import { PauseConsumption, type Handlers, type MessageContext } from '../../shared/nats/consumer.ts'
import { toEvent, type OutgoingEvent } from '../../shared/nats/publish.ts'
import type { TraceContext } from '../../shared/observability/trace-context.ts'
import {
  claimCancellation,
  deadlineOf,
  orderCreatedAt,
  type DecisionStore,
} from '../../shared/saga/decision.ts'
import { availableOf, releaseHold, returnOrRelease, sellHold } from './domain.ts'
import type { ReservationRecord } from './records.ts'
import type { StockStore } from './stock-store.ts'
import { logEvery } from '../../shared/observability/log-every.ts'

/** An order in another currency than the stock's (a deployment whose settings disagree). */
export class CurrencyMismatchError extends Error {
  override name = 'CurrencyMismatchError'
}

export interface InventoryHandlerDeps {
  store: StockStore
  decisions: DecisionStore
  currency: string
  /** Every order is settled within this of its creation, or cancelled `deadline_exceeded`. */
  deadlineMs: number
  /**
   * Asks nats-server to publish the order's deadline cancellation at
   * `deadlineAt`, in the order's lane (`orders.cancel_requested.express` for
   * an express order).
   */
  scheduleDeadline: (
    orderId: string,
    deadlineAt: string,
    correlationId: string,
    /** The delivery's span: the deadline's `orders.cancel_requested` continues its trace. */
    trace?: TraceContext,
    /** The lane of the `orders.created` being handled. */
    priority?: Priority,
  ) => Promise<void>
  /** How long one delivery may take to decide an order before another may take over. */
  leaseMs?: number
  now?: () => Date
}

export function createInventoryHandlers({
  store,
  decisions,
  currency,
  deadlineMs,
  scheduleDeadline,
  leaseMs = 30_000,
  now = () => new Date(),
}: InventoryHandlerDeps) {
  const stamp = () => now().toISOString()
  /** Tells this process's deliveries from another's (a delivery's owner id, `reserve`). */
  const instance = crypto.randomUUID()
  const base = (orderId: string) => ({ version: 1 as const, orderId, occurredAt: stamp() })

  function outcomeOf(record: ReservationRecord, created: OrderCreated, deadlineAt: string): OutgoingEvent[] {
    switch (record.state) {
      case 'reserved':
        return [
          toEvent(SUBJECTS.inventoryReserved, {
            ...base(record.orderId),
            items: record.items,
            amountCents: record.amountCents,
            currency: record.currency,
            sealedPaymentToken: created.sealedPaymentToken,
            deadlineAt,
          }),
        ]
      default:
        // Settled since (paid, released, cancelled): nothing left to say about the
        // reservation. (A `rejected` one says so in `rejectedOutcome`.)
        return []
    }
  }

  /**
   * Cancels an order no charge has started for (the first claim of its
   * decision wins); `[]` when the payment worker owns it or another worker
   * cancelled it.
   */
  async function cancelUnpaid(
    orderId: string,
    reason: 'customer_request' | 'deadline_exceeded',
    ctx: MessageContext,
  ): Promise<OutgoingEvent[]> {
    return (await claimUnpaidCancellation(orderId, reason, ctx)).events
  }

  /** {@link cancelUnpaid}, and whether the order is now cancelled for good (by anyone). */
  async function claimUnpaidCancellation(
    orderId: string,
    reason: 'customer_request' | 'deadline_exceeded',
    ctx: MessageContext,
  ): Promise<{ events: OutgoingEvent[]; cancelled: boolean }> {
    const claim = await claimCancellation(decisions, orderId, reason, 'inventory', now)
    if (claim.kind === 'paying') return { events: [], cancelled: false }
    if (claim.kind === 'already_cancelled' && claim.decision.decidedBy !== 'inventory')
      return { events: [], cancelled: true }
    const why = claim.decision.reason ?? reason
    if (claim.kind === 'cancelled') ctx.logger.info({ reason: why }, 'order cancelled before payment')
    return { events: [toEvent(SUBJECTS.orderCancelled, { ...base(orderId), reason: why })], cancelled: true }
  }

  /**
   * An `orders.created` dated more than a minute after the stream stored it:
   * forged, or an intake's clock (or nats-server's) is off. Either is an
   * operator's matter; said at warn level at most once a minute.
   */
  const datedAheadSaid = logEvery(
    'warn',
    "orders.created dated ahead of the stream's clock; its deadline counts from when it was stored",
  )
  const datedAhead = (occurredAt: string, storedAt: string, ctx: MessageContext): void =>
    datedAheadSaid(ctx.logger, { occurredAt, storedAt })

  const releaseAll = (orderId: string, items: readonly { sku: string }[]) =>
    releaseHolds(store, orderId, items)

  /**
   * All items or none: holds are taken in sku order; any shortage releases
   * them all. Before any hold, the order's deadline is scheduled, so an order
   * whose message is dead-lettered later still gets its holds released.
   */
  async function reserve(
    event: EventOf<typeof SUBJECTS.orderCreated>,
    ctx: MessageContext,
  ): Promise<readonly OutgoingEvent[]> {
    const created = upcastOrderCreated(event)
    // One owner per delivery: the same delivery handled again (after a lost
    // reply, say to the lease's own write) takes its lease again at once.
    const owner =
      ctx.streamSequence === undefined
        ? crypto.randomUUID()
        : `${instance}:${ctx.streamSequence}:${ctx.deliveryCount}`
    // Was the order cancelled before it got here? A `cancelled` decision can
    // only exist now if an `orders.cancel_requested` (a customer's, or the
    // deadline of an earlier delivery) was handled first, by this worker or by
    // the payment worker, or if an earlier attempt at this message found the
    // order short (see below), and only the decision record says so: the payment
    // worker cannot write reservations, and its `orders.cancelled` may still be
    // queued behind this message. Skipping the read would still charge nothing
    // (the payment worker's claim fails on the record), but would hold stock
    // and publish `inventory.reserved` for a cancelled order until that event
    // comes. So the read stays, sent in the same tick as the lease claim (it
    // does not depend on it), and so is the deadline's schedule, which must be
    // stored before any hold: one round trip for the three. On a redelivery
    // of a decided order the read is wasted (rare) and the schedule is the
    // same one again (it carries the order's de-duplication id; when it fires,
    // the relay drops the deadline of an order whose stock is settled). An
    // order already past its deadline gets no schedule: it is cancelled below.
    const createdAt = orderCreatedAt(created.occurredAt, ctx.storedAt)
    if (createdAt !== created.occurredAt) datedAhead(created.occurredAt, createdAt, ctx)
    const deadlineAt = deadlineOf(createdAt, deadlineMs)
    const pastDeadline = Date.parse(deadlineAt) <= now().getTime()
    if (created.currency !== undefined && created.currency !== currency) {
      // Taken by an intake whose ORDER_CURRENCY is not this stock's: priced
      // here, it would be charged in a currency the customer did not choose.
      // Nothing is held. The deadline still stands (it cancels the order if
      // the settings are not fixed in time); the message is retried, then
      // dead-lettered with this reason, to replay once they agree.
      if (!pastDeadline)
        await scheduleDeadline(created.orderId, deadlineAt, ctx.correlationId, ctx.trace, ctx.priority)
      throw new CurrencyMismatchError(
        `order in ${created.currency}, stock priced in ${currency}: ORDER_CURRENCY and INVENTORY_CURRENCY must be the same`,
      )
    }
    const [claim, decided] = await Promise.all([
      store.claimReservation(created.orderId, owner, leaseMs, created.items),
      decisions.read(created.orderId),
      pastDeadline
        ? undefined
        : scheduleDeadline(created.orderId, deadlineAt, ctx.correlationId, ctx.trace, ctx.priority),
    ])
    if (claim.kind === 'decided') {
      ctx.logger.info({ state: claim.record.state }, 'reservation already decided; repeating its outcome')
      if (HOLDS_NOTHING.has(claim.record.state)) {
        // A delivery that stalled past its lease may have taken a hold since,
        // and stopped before giving it back (or the one that decided it
        // stopped before its give-back): given back again, a no-op per sku
        // without one.
        await releaseAll(created.orderId, created.items)
        // Found short, then stopped before its cancellation was claimed: claimed now.
        if (claim.record.state === 'rejected') return await rejectedOutcome(claim.record, ctx)
      }
      return outcomeOf(claim.record, created, deadlineAt)
    }
    if (claim.kind === 'busy')
      throw new PauseConsumption('another delivery of this order is deciding it', 250)

    try {
      return await decide(created, owner, decided?.decision === 'cancelled' ? decided : null, {
        pastDeadline,
        deadlineAt,
        ctx,
      })
    } catch (error) {
      // Failed with the lease held (an invalid stock record, NATS gone): given
      // up, so the redelivery decides at once rather than after the lease.
      if (!(error instanceof PauseConsumption))
        await store
          .transition(created.orderId, (current) =>
            current?.state === 'reserving' && current.owner === owner
              ? { ...current, owner: undefined, leaseUntil: undefined }
              : undefined,
          )
          .catch((cause: unknown) => {
            ctx.logger.debug({ err: cause }, 'could not give up the reservation lease; it runs out by itself')
          })
      throw error
    }
  }

  /** Holds the order's stock, or cancels it: run while holding the order's lease. */
  async function decide(
    created: OrderCreated,
    owner: string,
    decided: Awaited<ReturnType<DecisionStore['read']>>,
    { pastDeadline, deadlineAt, ctx }: { pastDeadline: boolean; deadlineAt: string; ctx: MessageContext },
  ): Promise<readonly OutgoingEvent[]> {
    if (decided !== null || pastDeadline) {
      // Cancelled before it got here, or it waited past its deadline: hold nothing.
      // Out of stock is decided only here: such a decision is an earlier
      // attempt at this order that found it short, then failed before it
      // published. It is said again, with the same event id (the stream keeps
      // one). Any other cancellation's event belongs to the handler that
      // decided it, which says it again on its own redelivery.
      const { events: cancelling, cancelled } =
        decided?.decision === 'cancelled'
          ? {
              events:
                decided.decidedBy === 'inventory' && decided.reason === 'out_of_stock'
                  ? [toEvent(SUBJECTS.orderCancelled, { ...base(created.orderId), reason: 'out_of_stock' })]
                  : [],
              cancelled: true,
            }
          : await claimUnpaidCancellation(created.orderId, 'deadline_exceeded', ctx)
      // An earlier delivery of this message may have taken holds before it
      // stalled past its lease (a NATS outage), and the cancelled record
      // written here leaves nothing for the order's cancellation to release:
      // once the order is cancelled for good (never while the payment worker
      // owns it), its holds are given back here, before that record and again
      // after it (a stalled delivery's hold taken meanwhile; a no-op per sku
      // the order holds nothing on).
      if (cancelled) await releaseAll(created.orderId, created.items)
      await store.putReservation(
        {
          ...emptyReservation(created.orderId),
          state: 'cancelled',
          // What to give back if a stalled delivery's hold outlives this record (the deadline relay).
          requested: created.items.map(({ sku, quantity }) => ({ sku, quantity })),
          updatedAt: stamp(),
        },
        'reserving',
        owner,
      )
      if (cancelled) await releaseAll(created.orderId, created.items)
      ctx.logger.info({ reason: decided?.reason ?? 'deadline_exceeded' }, 'order cancelled; no stock held')
      return cancelling
    }
    const items = [...created.items].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0))
    const priced: PricedItem[] = []
    const shortSkus: string[] = []
    for (const item of items) {
      if (shortSkus.length > 0) {
        // Already failing: only find out which other skus are short, hold nothing more.
        const stock = await store.getStock(item.sku)
        if (
          stock === null ||
          (stock.holds[created.orderId] === undefined && availableOf(stock) < item.quantity)
        ) {
          shortSkus.push(item.sku)
        }
        continue
      }
      const decision = await store.takeHold(item.sku, created.orderId, item.quantity)
      if (decision.kind === 'short') shortSkus.push(item.sku)
      else priced.push({ sku: item.sku, quantity: item.quantity, unitPriceCents: decision.unitPriceCents })
    }

    const record: ReservationRecord = {
      orderId: created.orderId,
      state: shortSkus.length > 0 ? 'rejected' : 'reserved',
      items: shortSkus.length > 0 ? [] : priced,
      // Rejected: what to give back if a hold outlives the decision (at the deadline).
      ...(shortSkus.length > 0 ? { requested: items.map(({ sku, quantity }) => ({ sku, quantity })) } : {}),
      amountCents: priced.reduce((sum, i) => sum + i.quantity * i.unitPriceCents, 0),
      currency,
      shortSkus,
      updatedAt: stamp(),
    }
    // The decision is recorded first, under this delivery's lease, and only
    // then are holds given back: holds are keyed by order, so the holds this
    // delivery took are also those of any delivery that took its place after
    // it stalled past the lease (a frozen process, a NATS outage). A delivery
    // whose lease is gone gives back nothing the order may still need, and
    // only the delivery that wrote `rejected` claims the order's cancellation.
    const standing = await store.putReservation(record, 'reserving', owner)
    if (standing !== record) {
      if (standing.state === 'reserving')
        // Our lease ran out and another delivery took over (or gave it up): it decides.
        throw new PauseConsumption('lost the reservation lease to another delivery', 250)
      if (HOLDS_NOTHING.has(standing.state)) {
        // Decided (short, or cancelled) while this delivery stalled: what it held since is given back.
        await releaseAll(created.orderId, items)
        if (standing.state === 'rejected') return await rejectedOutcome(standing, ctx)
        return []
      }
      // Reserved by the delivery that took over (sold, returned since): its holds stand.
      return outcomeOf(standing, created, deadlineAt)
    }
    if (record.state === 'rejected') {
      await releaseAll(created.orderId, items)
      return await rejectedOutcome(record, ctx)
    }
    ctx.logger.info({ state: record.state, amountCents: record.amountCents }, 'stock reserved')
    return outcomeOf(record, created, deadlineAt)
  }

  /**
   * An order found short: out of stock is a cancellation too, so it claims
   * the order's decision (usually a create: nobody decided it yet). A
   * customer's cancellation or the deadline that got there first stands, and
   * the record says `cancelled`.
   */
  async function rejectedOutcome(record: ReservationRecord, ctx: MessageContext): Promise<OutgoingEvent[]> {
    const cancel = await claimCancellation(decisions, record.orderId, 'out_of_stock', 'inventory', now, {
      assumeAbsent: true,
    })
    if (cancel.kind === 'paying') {
      // Never: an order found short was never said to be reserved, so no charge started.
      ctx.logger.error('order found short, but a payment claimed it; leaving it to the payment')
      return []
    }
    if (cancel.kind === 'already_cancelled' && cancel.decision.reason !== 'out_of_stock') {
      await store.putReservation({ ...record, state: 'cancelled', updatedAt: stamp() }, 'rejected')
      return []
    }
    if (cancel.kind === 'cancelled')
      ctx.logger.info({ shortSkus: record.shortSkus }, 'stock short; cancelling order')
    return [
      toEvent(SUBJECTS.orderCancelled, {
        ...base(record.orderId),
        reason: 'out_of_stock',
        shortSkus: record.shortSkus,
      }),
    ]
  }

  /** A customer's cancellation or an order's deadline: cancelled here unless the payment worker owns it. */
  async function cancelRequested(
    event: EventOf<typeof SUBJECTS.orderCancelRequested>,
    ctx: MessageContext,
  ): Promise<readonly OutgoingEvent[]> {
    return cancelUnpaid(event.orderId, event.reason, ctx)
  }

  const releasedEvent = (
    orderId: string,
    items: readonly OrderItem[],
    reason: InventoryReleased['reason'],
    returned = false,
  ) =>
    toEvent(SUBJECTS.inventoryReleased, {
      ...base(orderId),
      items: items.map(({ sku, quantity }) => ({ sku, quantity })),
      reason,
      ...(returned ? { returned } : {}),
    })

  /**
   * An order was cancelled (by whoever decided it): its held stock is
   * released, or, if it had been sold and refunded, put back on hand.
   */
  async function onCancelled(event: OrderCancelled, ctx: MessageContext): Promise<readonly OutgoingEvent[]> {
    const { orderId } = event
    // Nothing was held (a hold left by a delivery that died goes back at the
    // order's deadline: createDeadlineRelay).
    if (event.reason === 'out_of_stock') return []
    const reason: InventoryReleased['reason'] =
      event.reason === 'customer_request' || event.reason === 'deadline_exceeded'
        ? event.reason
        : 'payment_failed'
    // Leases are wall-clock (claimReservation takes them with Date.now()).
    const at = Date.now()
    const { before, after } = await store.transition(orderId, (current) => {
      if (current === null) return { ...emptyReservation(orderId), state: 'cancelled', updatedAt: stamp() }
      if (current.state === 'reserving' && (current.leaseUntil ?? 0) > at) return undefined
      if (current.state === 'reserving' || current.state === 'reserved')
        return { ...current, state: 'released', owner: undefined, leaseUntil: undefined, updatedAt: stamp() }
      if (current.state === 'sold')
        return { ...current, state: 'returned', returnPending: true, updatedAt: stamp() }
      return undefined
    })
    if (before?.state === 'reserving' && after?.state === 'reserving') {
      throw new PauseConsumption('the order is being reserved; releasing once that is decided', 250)
    }
    // The stock follows the record, and again on a redelivery (a crash after
    // the record changed): every step below is idempotent per order.
    if (before === null || after === null) return []
    if (after.state === 'returned') {
      if (after.returnPending === true) {
        for (const { sku, quantity } of after.items)
          await store.changeHold(sku, (r) => returnOrRelease(r, orderId, quantity))
        await store.transition(orderId, (current) => {
          if (current?.state !== 'returned' || current.returnPending !== true) return undefined
          const { returnPending: _done, ...rest } = current
          return { ...rest, updatedAt: stamp() }
        })
        ctx.logger.info({ items: after.items.length, reason }, 'sold units returned to stock after a refund')
      }
      return [releasedEvent(orderId, after.items, reason, true)]
    }
    if (after.state !== 'released') return []
    // Reserved, or a stalled reservation (its lease ran out): release whatever it may hold.
    const items = after.items.length > 0 ? after.items : (after.requested ?? [])
    await releaseAll(orderId, items)
    ctx.logger.info({ items: items.length, reason }, 'stock released after cancellation')
    return [releasedEvent(orderId, items, reason)]
  }

  async function release(
    event: EventOf<typeof SUBJECTS.paymentFailed>,
    ctx: MessageContext,
  ): Promise<readonly OutgoingEvent[]> {
    const reservation = await store.getReservation(event.orderId)
    if (reservation === null || reservation.state === 'reserving') {
      // A payment outcome exists only for a reserved order: not visible yet, try again.
      throw new Error(`reservation of ${event.orderId} not visible yet (${reservation?.state ?? 'none'})`)
    }
    if (reservation.state === 'rejected') {
      ctx.logger.error('payment failed for an order whose reservation was rejected')
      return []
    }
    if (reservation.state !== 'reserved' && reservation.state !== 'released') {
      ctx.logger.info({ state: reservation.state }, 'payment failed for an order already settled here')
      return []
    }
    // The record first, then the stock (as for a cancellation): a delivery of
    // its `orders.created` that stalled past its lease and takes a hold now
    // finds the order released and gives it back. `released` again: a
    // redelivery after a crash between the two gives back and says it again.
    const released = await store.putReservation(
      { ...reservation, state: 'released', updatedAt: stamp() },
      'reserved',
    )
    if (released.state !== 'released') return []
    await releaseAll(event.orderId, reservation.items)
    ctx.logger.info({ items: reservation.items.length }, 'reservation released after failed payment')
    return [
      toEvent(SUBJECTS.inventoryReleased, {
        version: 1,
        orderId: event.orderId,
        occurredAt: stamp(),
        items: reservation.items.map(({ sku, quantity }) => ({ sku, quantity })),
        reason: 'payment_failed',
      }),
    ]
  }

  /**
   * The sale is decided on the reservation first (reserved -> sold, compare
   * and set), then applied to the stock: a cancellation handled at the same
   * time (reserved -> released, or sold -> returned) never loses to a sale
   * half applied.
   */
  async function sell(
    event: EventOf<typeof SUBJECTS.paymentCompleted>,
    ctx: MessageContext,
  ): Promise<readonly OutgoingEvent[]> {
    const { before, after } = await store.transition(event.orderId, (current) =>
      current?.state === 'reserved' ? { ...current, state: 'sold', updatedAt: stamp() } : undefined,
    )
    if (before === null || before.state === 'reserving') {
      throw new Error(`reservation of ${event.orderId} not visible yet (${before?.state ?? 'none'})`)
    }
    if (after?.state !== 'sold') {
      // Cancelled before this event got here: its stock went back then.
      ctx.logger.info({ state: after?.state }, 'payment completed for an order no longer reserved')
      return []
    }
    for (const { sku } of after.items) await store.changeHold(sku, (r) => sellHold(r, event.orderId))
    if (before.state === 'reserved')
      ctx.logger.info({ amountCents: after.amountCents }, 'reservation turned into a sale')
    return []
  }

  return {
    [SUBJECTS.orderCreated]: reserve,
    [SUBJECTS.orderCancelRequested]: cancelRequested,
    [SUBJECTS.orderCancelled]: onCancelled,
    [SUBJECTS.paymentFailed]: release,
    [SUBJECTS.paymentCompleted]: sell,
  } satisfies Handlers
}

function emptyReservation(orderId: string): ReservationRecord {
  return {
    orderId,
    state: 'cancelled',
    items: [],
    amountCents: 0,
    currency: '',
    shortSkus: [],
    updatedAt: '',
  }
}

/**
 * Due deadlines, from DEADLINES into ORDERS: the `orders.cancel_requested`
 * the server fired on `deadlines.fired.<subject>` is published as that event,
 * in the same lane (the consumer strips the prefix; the runner publishes in
 * the message's lane), under the id the schedule carried, so a relay repeated
 * after a crash is de-duplicated. Every order's deadline fires (a settling
 * event in ORDERS cannot remove a schedule in another stream), so the relay
 * drops the deadline of an order whose reservation here ended (rejected,
 * released, cancelled, sold, returned). Anything else goes on, a decided
 * order whose reservation still holds stock included: the handlers then say
 * again what settles it (a confirmed order's payment, a cancellation, a
 * payment failure), which is what the deadline is there for.
 */
export function createDeadlineRelay({
  decisions,
  reservations,
}: {
  decisions: Pick<DecisionStore, 'read'>
  reservations: Pick<StockStore, 'getReservation' | 'changeHold'>
}): Handlers {
  return {
    [SUBJECTS.orderCancelRequested]: async (event, ctx) => {
      let unread: Error | undefined
      const [decided, reservation] = await Promise.all([
        // Unreadable (a record refused, NATS gone): only a sold order's deadline needs it (below).
        decisions.read(event.orderId).catch((error: unknown) => {
          unread = error instanceof Error ? error : new Error(String(error))
          return undefined
        }),
        reservations.getReservation(event.orderId),
      ])
      // Whether a sold order was refunded since is the decision's to say: retried until it is read.
      if (reservation?.state === 'sold' && unread !== undefined) throw unread
      if (unread !== undefined)
        ctx.logger.debug({ err: unread }, "deadline relay could not read the order's decision; not needed")
      // Only an order whose stock is settled is done with. A decided order
      // whose reservation still holds stock gets its deadline, whatever was
      // decided: the event that settles the stock (its payments.completed, its
      // cancellation, a late charge's payment failure) may have been lost
      // with a dead-lettered delivery, and the payment worker says it again
      // under its first message id (a confirmed order stays confirmed). So
      // does a sold order refunded, or being refunded, after a cancellation:
      // its units come back only with that `orders.cancelled`.
      const paymentState = decided?.payment?.state
      const refundOfSale =
        reservation?.state === 'sold' && (paymentState === 'refunding' || paymentState === 'refunded')
      const stockSettled =
        reservation !== null && SETTLED_RESERVATIONS.has(reservation.state) && !refundOfSale
      if (stockSettled) {
        // An order that holds nothing may still have a hold: one a delivery
        // of its `orders.created` took after stalling past its lease, then
        // died before giving it back (or one an instance of an earlier
        // release left). By its deadline nothing may hold stock for it.
        if (HOLDS_NOTHING.has(reservation.state)) {
          const asked = reservation.items.length > 0 ? reservation.items : (reservation.requested ?? [])
          const given = await releaseHolds(reservations, event.orderId, asked)
          if (given.length > 0)
            ctx.logger.warn(
              { skus: given, reservation: reservation.state },
              'deadline gave back holds left on a settled order',
            )
        }
        ctx.logger.debug(
          { reservation: reservation.state, payment: decided?.payment?.state },
          'deadline of a settled order; dropped',
        )
        return []
      }
      ctx.logger.info(
        {
          reservation: reservation?.state ?? null,
          decision: decided?.decision ?? null,
          payment: paymentState ?? null,
        },
        refundOfSale
          ? 'order deadline due, its sale refunded; relayed'
          : 'order deadline due, its stock not settled; relayed',
      )
      return [{ ...toEvent(SUBJECTS.orderCancelRequested, event), msgId: deadlineMsgId(event.orderId) }]
    },
  }
}

/** Gives back the order's hold on each sku (a no-op where it has none); the skus it held. */
async function releaseHolds(
  store: Pick<StockStore, 'changeHold'>,
  orderId: string,
  items: readonly { sku: string }[],
): Promise<string[]> {
  const given: string[] = []
  for (const { sku } of items)
    if (await store.changeHold(sku, (r) => releaseHold(r, orderId))) given.push(sku)
  return given
}

/** Decided reservations that hold no stock: any hold of the order is one to give back. */
const HOLDS_NOTHING: ReadonlySet<ReservationRecord['state']> = new Set(['rejected', 'cancelled', 'released'])

/** Reservations whose stock is settled: nothing is held for the order any more. */
const SETTLED_RESERVATIONS: ReadonlySet<ReservationRecord['state']> = new Set([
  'rejected',
  'released',
  'cancelled',
  'sold',
  'returned',
])
