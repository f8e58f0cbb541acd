/*
 * Who settles an order. One record per order in the `order-decisions` bucket,
 * written only by compare-and-set, so exactly one of two things happens:
 *
 * - the payment worker claims it (`paying`) before its first charge attempt:
 *   from then on only the payment worker decides the order's money (charge,
 *   decline, refund) and a cancellation request is handed to it; or
 * - a cancellation (customer request, deadline, or out of stock) claims it
 *   first (`cancelled`): no charge is ever attempted for it.
 *
 * The inventory worker and the payment worker both handle cancellation
 * requests and race for the record; whoever creates `cancelled` publishes
 * `orders.cancelled`, and the inventory worker releases the stock on that.
 */
import type { KV } from '@nats-io/kv'
import * as v from 'valibot'
import { CancellationReasonSchema } from '../../schemas/events.ts'
import { CentsSchema, CurrencySchema, OrderIdSchema, TimestampSchema } from '../../schemas/primitives.ts'
import { readJson, updateJson } from '../nats/kv-json.ts'

/** The payment worker's side of a `paying` order. */
export const PaymentStateSchema = v.picklist([
  /** A charge may be in flight: never guess its outcome. */
  'charging',
  'charged',
  'declined',
  /** The processor never answered within the budget: cancelled, and reconciliation checks the key. */
  'unresolved',
  /** Charged, then cancelled: the refund is being made (or retried by reconciliation). */
  'refunding',
  'refunded',
])
export type PaymentState = v.InferOutput<typeof PaymentStateSchema>

export const OrderDecisionV1 = v.object({
  orderId: OrderIdSchema,
  decision: v.picklist(['paying', 'cancelled']),
  /** Why the order was cancelled (a `cancelled` decision, or a paid order cancelled later). */
  reason: v.optional(CancellationReasonSchema),
  decidedBy: v.picklist(['inventory', 'payment']),
  decidedAt: TimestampSchema,
  updatedAt: TimestampSchema,
  payment: v.optional(
    v.object({
      state: PaymentStateSchema,
      amountCents: CentsSchema,
      currency: CurrencySchema,
      chargeId: v.optional(v.string()),
      /** A cancellation that arrived while the charge was in flight: applied once it settles. */
      cancelRequested: v.optional(v.picklist(['customer_request', 'deadline_exceeded'])),
      refundId: v.optional(v.string()),
    }),
  ),
})
export type OrderDecision = v.InferOutput<typeof OrderDecisionV1>
export type PaymentPart = NonNullable<OrderDecision['payment']>

export type Decider = OrderDecision['decidedBy']

type Change<R> = (
  current: OrderDecision | null,
) => { value: OrderDecision; result: R } | { value?: undefined; result: R }

/** Compare-and-set updates of order decisions (KV in the workers; memory in unit tests). */
export interface DecisionStore {
  read(orderId: string): Promise<OrderDecision | null>
  update<R>(orderId: string, change: Change<R>): Promise<R>
}

export function kvDecisionStore(kv: KV): DecisionStore {
  return {
    read: async (orderId) => (await readJson(kv, orderId, OrderDecisionV1))?.value ?? null,
    update: (orderId, change) => updateJson(kv, orderId, OrderDecisionV1, change),
  }
}

export function memoryDecisionStore(): DecisionStore & { records: Map<string, OrderDecision> } {
  const records = new Map<string, OrderDecision>()
  return {
    records,
    read: (orderId) => Promise.resolve(records.get(orderId) ?? null),
    update: <R>(orderId: string, change: Change<R>) => {
      const next = change(records.get(orderId) ?? null)
      if (next.value !== undefined) records.set(orderId, structuredClone(next.value))
      return Promise.resolve(next.result)
    },
  }
}

export type CancelClaim =
  /** This call cancelled the order: publish `orders.cancelled`. */
  | { kind: 'cancelled'; decision: OrderDecision }
  /** Cancelled before (by this worker: publish again, the message id makes it once). */
  | { kind: 'already_cancelled'; decision: OrderDecision }
  /** The payment worker owns the order. */
  | { kind: 'paying'; decision: OrderDecision }

/** Claims the order as cancelled unless the payment worker claimed it first. */
export function claimCancellation(
  store: DecisionStore,
  orderId: string,
  reason: OrderDecision['reason'] & string,
  by: Decider,
  now: () => Date,
): Promise<CancelClaim> {
  return store.update<CancelClaim>(orderId, (current) => {
    if (current === null) {
      const at = now().toISOString()
      const decision: OrderDecision = {
        orderId,
        decision: 'cancelled',
        reason,
        decidedBy: by,
        decidedAt: at,
        updatedAt: at,
      }
      return { value: decision, result: { kind: 'cancelled', decision } }
    }
    return current.decision === 'cancelled'
      ? { result: { kind: 'already_cancelled', decision: current } }
      : { result: { kind: 'paying', decision: current } }
  })
}

/** Deadline of an order created at `createdAt` (ISO), `deadlineMs` later. */
export function deadlineOf(createdAt: string, deadlineMs: number): string {
  return new Date(Date.parse(createdAt) + deadlineMs).toISOString()
}
