import type { EventOf, OrderCreated } from '../../schemas/events.ts'
import type { PricedItem } from '../../schemas/primitives.ts'
import { SUBJECTS } from '../../schemas/subjects.ts'
import { PauseConsumption, type Handlers, type MessageContext } from '../../shared/nats/consumer.ts'
import { toEvent, type OutgoingEvent } from '../../shared/nats/publish.ts'
import { availableOf, releaseHold, sellHold } from './domain.ts'
import type { ReservationRecord } from './records.ts'
import type { StockStore } from './stock-store.ts'

export interface InventoryHandlerDeps {
  store: StockStore
  currency: string
  /** How long one delivery may take to decide an order before another may take over. */
  leaseMs?: number
  now?: () => Date
}

export function createInventoryHandlers({
  store,
  currency,
  leaseMs = 30_000,
  now = () => new Date(),
}: InventoryHandlerDeps) {
  const stamp = () => now().toISOString()

  function outcomeOf(record: ReservationRecord, created: OrderCreated): OutgoingEvent[] {
    const base = { version: 1 as const, orderId: record.orderId, occurredAt: stamp() }
    switch (record.state) {
      case 'reserved':
        return [
          toEvent(SUBJECTS.inventoryReserved, {
            ...base,
            items: record.items,
            amountCents: record.amountCents,
            currency: record.currency,
            sealedPaymentToken: created.sealedPaymentToken,
          }),
        ]
      case 'rejected':
        return [
          toEvent(SUBJECTS.orderCancelled, { ...base, reason: 'out_of_stock', shortSkus: record.shortSkus }),
        ]
      default:
        // Payment already settled it; nothing left to say about the reservation.
        return []
    }
  }

  async function releaseAll(orderId: string, items: readonly { sku: string }[]): Promise<void> {
    for (const { sku } of items) await store.changeHold(sku, (r) => releaseHold(r, orderId))
  }

  /** All items or none: holds are taken in sku order; any shortage releases them all. */
  async function reserve(created: OrderCreated, ctx: MessageContext): Promise<readonly OutgoingEvent[]> {
    const owner = crypto.randomUUID()
    const claim = await store.claimReservation(created.orderId, owner, leaseMs)
    if (claim.kind === 'decided') {
      ctx.logger.info({ state: claim.record.state }, 'reservation already decided; repeating its outcome')
      return outcomeOf(claim.record, created)
    }
    if (claim.kind === 'busy')
      throw new PauseConsumption('another delivery of this order is deciding it', 250)
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
    if (shortSkus.length > 0) await releaseAll(created.orderId, items)

    const record: ReservationRecord = {
      orderId: created.orderId,
      state: shortSkus.length > 0 ? 'rejected' : 'reserved',
      items: shortSkus.length > 0 ? [] : priced,
      amountCents: priced.reduce((sum, i) => sum + i.quantity * i.unitPriceCents, 0),
      currency,
      shortSkus,
      updatedAt: stamp(),
    }
    const standing = await store.putReservation(record, 'reserving', owner)
    if (standing.owner !== undefined && standing.state === 'reserving') {
      // Our lease ran out and another delivery took over: it decides.
      throw new PauseConsumption('lost the reservation lease to another delivery', 250)
    }
    ctx.logger.info(
      { state: standing.state, shortSkus: standing.shortSkus, amountCents: standing.amountCents },
      standing.state === 'reserved' ? 'stock reserved' : 'stock short; cancelling order',
    )
    return outcomeOf(standing, created)
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
    if (reservation.state === 'sold') {
      ctx.logger.error('payment failed for an order already sold; leaving stock as sold')
      return []
    }
    await releaseAll(event.orderId, reservation.items)
    const released = await store.putReservation(
      { ...reservation, state: 'released', updatedAt: stamp() },
      'reserved',
    )
    ctx.logger.info({ items: reservation.items.length }, 'reservation released after failed payment')
    return released.state === 'released'
      ? [
          toEvent(SUBJECTS.inventoryReleased, {
            version: 1,
            orderId: event.orderId,
            occurredAt: stamp(),
            items: reservation.items.map(({ sku, quantity }) => ({ sku, quantity })),
            reason: 'payment_failed',
          }),
        ]
      : []
  }

  async function sell(
    event: EventOf<typeof SUBJECTS.paymentCompleted>,
    ctx: MessageContext,
  ): Promise<readonly OutgoingEvent[]> {
    const reservation = await store.getReservation(event.orderId)
    if (reservation === null || reservation.state === 'reserving') {
      throw new Error(`reservation of ${event.orderId} not visible yet (${reservation?.state ?? 'none'})`)
    }
    if (reservation.state === 'rejected' || reservation.state === 'released') {
      ctx.logger.error(
        { state: reservation.state },
        'payment completed for an order with no open reservation',
      )
      return []
    }
    for (const { sku } of reservation.items) await store.changeHold(sku, (r) => sellHold(r, event.orderId))
    if (reservation.state === 'reserved') {
      await store.putReservation({ ...reservation, state: 'sold', updatedAt: stamp() }, 'reserved')
      ctx.logger.info({ amountCents: reservation.amountCents }, 'reservation turned into a sale')
    }
    return []
  }

  return {
    [SUBJECTS.orderCreated]: reserve,
    [SUBJECTS.paymentFailed]: release,
    [SUBJECTS.paymentCompleted]: sell,
  } satisfies Handlers
}
