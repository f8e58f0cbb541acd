// What the load generator orders: a fixed, seeded mix of good, declined and
// flaky cards, and orders for a sku with little stock (alone or beside another).

export interface OrderItem {
  sku: string
  quantity: number
}

export interface OrderRequest {
  customerId: string
  items: OrderItem[]
  paymentToken: string
}

/** What the client meant to test with an order; the outcome comes from the system. */
export type OrderKind = 'good_card' | 'declined_card' | 'flaky_card' | 'short_sku' | 'short_multi'

export interface CatalogEntry {
  sku: string
  onHand: number
  priceCents: number
}

export const SHORT_SKU = 'CHAOS-SHORT'

/** Plenty of two skus, and `shortStock` units of one that runs out during the run. */
export function chaosCatalog(shortStock: number): CatalogEntry[] {
  return [
    { sku: 'CHAOS-A', onHand: 1_000_000, priceCents: 1_250 },
    { sku: 'CHAOS-B', onHand: 1_000_000, priceCents: 399 },
    { sku: SHORT_SKU, onHand: shortStock, priceCents: 5_000 },
  ]
}

/** Shares of each kind, in percent. */
const MIX: readonly (readonly [OrderKind, number])[] = [
  ['good_card', 50],
  ['declined_card', 15],
  ['flaky_card', 15],
  ['short_sku', 12],
  ['short_multi', 8],
]

/** mulberry32: a small seeded PRNG, so a run's order mix can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

export function createOrderMix(seed: number): (n: number) => { kind: OrderKind; request: OrderRequest } {
  const random = seededRandom(seed)
  const pick = (): OrderKind => {
    let roll = random() * 100
    for (const [kind, share] of MIX) {
      if (roll < share) return kind
      roll -= share
    }
    return 'good_card'
  }
  const plentiful = (): OrderItem => ({
    sku: random() < 0.5 ? 'CHAOS-A' : 'CHAOS-B',
    quantity: 1 + Math.floor(random() * 3),
  })
  return (n) => {
    const kind = pick()
    const customerId = `chaos-${n % 50}`
    switch (kind) {
      case 'declined_card':
        return { kind, request: { customerId, items: [plentiful()], paymentToken: 'tok_declined' } }
      case 'flaky_card':
        return { kind, request: { customerId, items: [plentiful()], paymentToken: 'tok_flaky' } }
      case 'short_sku':
        return {
          kind,
          request: {
            customerId,
            items: [{ sku: SHORT_SKU, quantity: 1 + Math.floor(random() * 2) }],
            paymentToken: 'tok_ok',
          },
        }
      case 'short_multi':
        return {
          kind,
          request: {
            customerId,
            items: [plentiful(), { sku: SHORT_SKU, quantity: 1 }],
            paymentToken: 'tok_ok',
          },
        }
      default:
        return { kind, request: { customerId, items: [plentiful()], paymentToken: 'tok_ok' } }
    }
  }
}
