// The money invariant, checked against the processor's own ledger (the
// sandbox's GET /charges, refunds included) rather than what the workers say:
// for every order in a final state, captured minus refunded equals its amount
// when confirmed and 0 when cancelled; and no charge exists for an order no
// client placed.
import { expect, it } from 'vitest'
import { waitFor } from '../harness/wait-for.ts'
import { bearer } from './provision.ts'

export interface LedgerCharge {
  id: string
  orderId: string
  amountCents: number
  amountRefundedCents?: number
  refunds?: { id: string; amountCents: number }[]
}

export interface MoneyOrder {
  orderId: string
  status: string
  amountCents?: number
}

/** Every charge in the sandbox's ledger, refunds included. */
export async function ledgerCharges(gatewayUrl: string): Promise<LedgerCharge[]> {
  const res = await fetch(`${gatewayUrl}/charges`, {
    headers: bearer('gateway'),
    signal: AbortSignal.timeout(5_000),
  })
  if (res.status !== 200) throw new Error(`GET /charges: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { charges: LedgerCharge[] }).charges
}

const refundedOf = (c: LedgerCharge): number =>
  c.amountRefundedCents ?? (c.refunds ?? []).reduce((sum, r) => sum + r.amountCents, 0)

/** Net money the processor holds per order (captured minus refunded). */
export function netByOrder(charges: readonly LedgerCharge[]): Map<string, number> {
  const net = new Map<string, number>()
  for (const c of charges) net.set(c.orderId, (net.get(c.orderId) ?? 0) + c.amountCents - refundedOf(c))
  return net
}

/**
 * What breaks the invariant, one line per fault (empty: it holds). Orders
 * not final yet are only checked for "a charge without an order".
 * `placed`: every order id a client got a 202 for.
 */
export function moneyViolations(
  orders: readonly MoneyOrder[],
  charges: readonly LedgerCharge[],
  placed: ReadonlySet<string>,
): string[] {
  const faults: string[] = []
  const net = netByOrder(charges)
  for (const order of orders) {
    const held = net.get(order.orderId) ?? 0
    if (order.status === 'confirmed' && held !== (order.amountCents ?? 0))
      faults.push(
        `${order.orderId} confirmed for ${order.amountCents ?? '?'} but the processor holds ${held}`,
      )
    if (order.status === 'cancelled' && held !== 0)
      faults.push(`${order.orderId} cancelled but the processor holds ${held}`)
  }
  for (const c of charges) {
    if (!placed.has(c.orderId)) faults.push(`charge ${c.id} for ${c.orderId}, an order no client placed`)
    if (refundedOf(c) > c.amountCents) faults.push(`charge ${c.id} refunded more than it took`)
  }
  return faults
}

/**
 * Waits (bounded) until the invariant holds for every given order, each of
 * which must be final: reconciliation may still be refunding a charge that
 * surfaced late. Throws with the remaining faults.
 */
export async function expectMoneyBalanced(
  { gatewayUrl, getOrder }: { gatewayUrl: string; getOrder: (orderId: string) => Promise<MoneyOrder | null> },
  placed: ReadonlySet<string>,
  timeoutMs = 30_000,
): Promise<{ orders: number; charges: number }> {
  let last: string[] = []
  // A final order stays final (its status and amount no longer change): read once.
  const finals = new Map<string, MoneyOrder>()
  try {
    return await waitFor(
      async () => {
        for (const id of placed) {
          if (finals.has(id)) continue
          const order = await getOrder(id)
          if (order === null || (order.status !== 'confirmed' && order.status !== 'cancelled')) {
            last = [`${id} not final (${order?.status ?? 'not readable'})`]
            return undefined
          }
          finals.set(id, order)
        }
        const orders = [...finals.values()]
        const charges = await ledgerCharges(gatewayUrl)
        last = moneyViolations(orders, charges, placed)
        return last.length === 0 ? { orders: orders.length, charges: charges.length } : undefined
      },
      { timeoutMs, intervalMs: 250, message: 'money balanced' },
    )
  } catch (error) {
    throw new Error(`money invariant broken: ${last.slice(0, 10).join('; ')}`, { cause: error })
  }
}

/**
 * A test that checks the money invariant over every order the suite placed
 * through `stack()` so far: declare it after the tests that place orders and
 * before any that stop the order service or the gateway.
 */
export function itKeepsTheMoneyInvariant(
  stack: () => {
    placed: ReadonlySet<string>
    moneyBalanced(timeoutMs?: number): Promise<{ orders: number }>
  },
): void {
  it('keeps the money invariant over every order it placed', async () => {
    const placed = stack().placed.size
    expect(placed).toBeGreaterThan(0)
    expect((await stack().moneyBalanced()).orders).toBe(placed)
  })
}
