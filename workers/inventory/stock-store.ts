import type { KV } from '@nats-io/kv'
import { readJson, updateJson } from '../../shared/nats/kv-json.ts'
import { setStock, takeHold, type HoldDecision, type SetStockDecision } from './domain.ts'
import { ReservationRecordSchema, StockRecordSchema, type ReservationRecord, type SetStockRequest, type StockRecord } from './records.ts'

/** Hot skus see many writers at once; losing a race is normal there. */
const MAX_ATTEMPTS = 500

/** Stock and reservation records in KV, each change at the read revision. */
export function createStockStore(stockKv: KV, reservationsKv: KV) {
  return {
    getStock: async (sku: string): Promise<StockRecord | null> => (await readJson(stockKv, sku, StockRecordSchema))?.value ?? null,

    setStock: (sku: string, request: SetStockRequest): Promise<SetStockDecision> =>
      updateJson<StockRecord, SetStockDecision>(stockKv, sku, StockRecordSchema, (current) => {
        const decision = setStock(current, sku, request)
        return decision.kind === 'ok' ? { value: decision.record, result: decision } : { result: decision }
      }, { maxAttempts: MAX_ATTEMPTS }),

    takeHold: (sku: string, orderId: string, quantity: number): Promise<HoldDecision> =>
      updateJson<StockRecord, HoldDecision>(stockKv, sku, StockRecordSchema, (current) => {
        const decision = takeHold(current, orderId, quantity)
        return decision.kind === 'held' ? { value: decision.record, result: decision } : { result: decision }
      }, { maxAttempts: MAX_ATTEMPTS }),

    /** Applies a hold change (release or sale); true when something changed. */
    changeHold: (sku: string, change: (record: StockRecord | null) => StockRecord | null): Promise<boolean> =>
      updateJson(stockKv, sku, StockRecordSchema, (current) => {
        const next = change(current)
        return next === null ? { result: false } : { value: next, result: true }
      }, { maxAttempts: MAX_ATTEMPTS }),

    getReservation: async (orderId: string): Promise<ReservationRecord | null> =>
      (await readJson(reservationsKv, orderId, ReservationRecordSchema))?.value ?? null,

    /** Writes the record unless one exists already; returns the one that stands. */
    putReservation: (record: ReservationRecord, expectState?: ReservationRecord['state']): Promise<ReservationRecord> =>
      updateJson(reservationsKv, record.orderId, ReservationRecordSchema, (current) => {
        if (current !== null && current.state !== expectState) return { result: current }
        return { value: record, result: record }
      }),
  }
}

export type StockStore = ReturnType<typeof createStockStore>
