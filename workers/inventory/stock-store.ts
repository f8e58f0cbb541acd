import type { KV } from '@nats-io/kv'
import { getUnchecked } from '../../shared/security/record-seal.ts'
import * as v from 'valibot'
import { KvRecordError, readJson } from '../../shared/nats/kv-json.ts'
import { createRecordWriter } from '../../shared/nats/record-writer.ts'
import { setStock, takeHold, type HoldDecision, type SetStockDecision } from './domain.ts'
import type { OrderItem } from '../../schemas/primitives.ts'
import {
  ReservationRecordSchema,
  StockRecordSchema,
  type ReservationRecord,
  type SetStockRequest,
  type StockRecord,
} from './records.ts'

/** How an operator repairs a stock record that fails its check. */
export const stockRepair = (sku: string): string =>
  `PUT /inventory/${sku} with an admin key and no If-Match replaces it`

/**
 * A stock record that fails its check, said with its repair: the message
 * reaches a dead letter's reason, where an operator reads it.
 */
async function withRepair<T>(sku: string, write: Promise<T>): Promise<T> {
  try {
    return await write
  } catch (error) {
    if (!(error instanceof KvRecordError)) throw error
    throw new KvRecordError(`${error.message}; ${stockRepair(sku)} (see GET /inventory/${sku})`, {
      cause: error,
    })
  }
}

/** Hot skus see many writers at once; losing a race is normal there. */
const MAX_ATTEMPTS = 500

/**
 * Stock and reservation records in KV, each change a compare-and-set at the
 * revision it was decided on. Changes to one record from this process run one
 * at a time and start from what this process wrote last (`createRecordWriter`):
 * a hot sku costs one write per change instead of a storm of conflicting
 * retries between this process's own deliveries.
 */
export function createStockStore(stockKv: KV, reservationsKv: KV) {
  const stock = createRecordWriter(stockKv, StockRecordSchema)
  const reservations = createRecordWriter(reservationsKv, ReservationRecordSchema)
  const setOrdinary = (sku: string, request: SetStockRequest, ifMatch?: string): Promise<SetStockDecision> =>
    stock.update<SetStockDecision>(
      sku,
      (current) => {
        const decision = setStock(current, sku, request, ifMatch)
        return decision.kind === 'ok' ? { value: decision.record, result: decision } : { result: decision }
      },
      { maxAttempts: MAX_ATTEMPTS },
    )
  return {
    getStock: async (sku: string): Promise<StockRecord | null> =>
      (await readJson(stockKv, sku, StockRecordSchema))?.value ?? null,

    /**
     * Sets on-hand units and price. A record that is not a valid stock record
     * (written around this service) is replaced by a new one: an admin's PUT
     * is how it is repaired (`replaced: true`; the holds it may have named are
     * unknown and dropped).
     */
    setStock: async (
      sku: string,
      request: SetStockRequest,
      /** An `If-Match` header: the record's values must still be those it names (checked in the write's compare-and-set). */
      ifMatch?: string,
    ): Promise<SetStockDecision & { replaced?: true }> => {
      try {
        return await setOrdinary(sku, request, ifMatch)
      } catch (error) {
        // A record that does not parse has no tag to match: answered as such (500 invalid_record).
        if (!(error instanceof KvRecordError) || ifMatch !== undefined) throw error
        // As stored: a record without a valid seal (record-seal.ts) is replaced too.
        const stored = await getUnchecked(stockKv, sku)
        const decision = setStock(null, sku, request)
        if (decision.kind !== 'ok' || stored === null) throw error
        // Repaired by someone else since: set it the ordinary way, keeping the holds it names.
        let valid = false
        try {
          const checked = await stockKv.get(sku)
          valid = checked !== null && v.is(StockRecordSchema, checked.json())
        } catch {
          valid = false
        }
        if (valid) return await setOrdinary(sku, request)
        // At the revision read: a writer that fixed it meanwhile wins, and this PUT fails as a conflict.
        await stockKv.update(sku, JSON.stringify({ ...decision.record }), stored.revision)
        return { ...decision, created: false, replaced: true }
      }
    },

    takeHold: (sku: string, orderId: string, quantity: number): Promise<HoldDecision> =>
      withRepair(
        sku,
        stock.update<HoldDecision>(
          sku,
          (current) => {
            const decision = takeHold(current, orderId, quantity)
            return decision.kind === 'held'
              ? { value: decision.record, result: decision }
              : { result: decision }
          },
          { maxAttempts: MAX_ATTEMPTS },
        ),
      ),

    /** Applies a hold change (release or sale); true when something changed. */
    changeHold: (sku: string, change: (record: StockRecord | null) => StockRecord | null): Promise<boolean> =>
      withRepair(
        sku,
        stock.update(
          sku,
          (current) => {
            const next = change(current)
            return next === null ? { result: false } : { value: next, result: true }
          },
          { maxAttempts: MAX_ATTEMPTS },
        ),
      ),

    getReservation: async (orderId: string): Promise<ReservationRecord | null> =>
      (await readJson(reservationsKv, orderId, ReservationRecordSchema))?.value ?? null,

    /**
     * Takes the lease on deciding an order, so two deliveries of the same
     * `orders.created` (a redelivery while the first is still running, on this
     * process or another) never take and release its holds at the same time.
     * An expired lease (its holder crashed or hung) can be taken over.
     */
    claimReservation: (
      orderId: string,
      owner: string,
      leaseMs: number,
      requested: readonly OrderItem[],
      now = Date.now(),
    ): Promise<ClaimResult> =>
      reservations.update<ClaimResult>(
        orderId,
        (current) => {
          if (current !== null && current.state !== 'reserving')
            return { result: { kind: 'decided', record: current } }
          if (current !== null && current.owner !== owner && (current.leaseUntil ?? 0) > now)
            return { result: { kind: 'busy' } }
          const lease: ReservationRecord = {
            orderId,
            state: 'reserving',
            owner,
            leaseUntil: now + leaseMs,
            requested: requested.map(({ sku, quantity }) => ({ sku, quantity })),
            items: [],
            amountCents: 0,
            currency: '',
            shortSkus: [],
            updatedAt: new Date(now).toISOString(),
          }
          return { value: lease, result: { kind: 'claimed' } }
        },
        // A new order is the usual case: create the lease without reading first.
        { assumeAbsent: true },
      ),

    /**
     * Moves an order's reservation to `state` by `change`, whatever it is now
     * (`null`: none yet); `change` returns `undefined` to leave it. Returns
     * the record that stands.
     */
    transition: (
      orderId: string,
      change: (current: ReservationRecord | null) => ReservationRecord | undefined,
    ): Promise<{ before: ReservationRecord | null; after: ReservationRecord | null }> =>
      reservations.update(orderId, (current) => {
        const next = change(current)
        return next === undefined
          ? { result: { before: current, after: current } }
          : { value: next, result: { before: current, after: next } }
      }),

    /**
     * Writes `record` if the current one is in `expectState` (and, for a
     * lease, still held by `owner`); returns the record that stands.
     */
    putReservation: (
      record: ReservationRecord,
      expectState: ReservationRecord['state'],
      owner?: string,
    ): Promise<ReservationRecord> =>
      reservations.update(record.orderId, (current) => {
        if (
          current === null ||
          current.state !== expectState ||
          (owner !== undefined && current.owner !== owner)
        ) {
          return { result: current ?? record }
        }
        return { value: record, result: record }
      }),
  }
}

export type ClaimResult =
  { kind: 'claimed' } | { kind: 'busy' } | { kind: 'decided'; record: ReservationRecord }

export type StockStore = ReturnType<typeof createStockStore>
