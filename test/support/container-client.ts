// HTTP helpers for a saga whose services run elsewhere (containers): place an
// order (retrying 503 with the same Idempotency-Key, as a client should), wait
// for its final state, set and read stock, list charges; each with the key its
// route wants (client key, admin key, the gateway's secret key).
import { randomUUID } from 'node:crypto'
import { waitFor } from '../harness/wait-for.ts'
import type { StackKeys } from './container-secrets.ts'
import type { ChargeView, OrderView, StockView } from './saga-stack.ts'

export interface SagaUrls {
  order: string
  inventory: string
  gateway: string
}

const bearer = (key: string): Record<string, string> => ({ Authorization: `Bearer ${key}` })

export function createSagaClient(urls: SagaUrls, keys: StackKeys) {
  const json = async <T>(res: Response, what: string): Promise<T> => {
    if (!res.ok) throw new Error(`${what}: ${res.status} ${await res.text()}`)
    return (await res.json()) as T
  }
  const getOrder = async (orderId: string, apiKey = keys.apiKey): Promise<OrderView | null> => {
    const res = await fetch(`${urls.order}/orders/${orderId}`, {
      headers: bearer(apiKey),
      signal: AbortSignal.timeout(5_000),
    })
    return res.status === 200 ? ((await res.json()) as OrderView) : null
  }
  return {
    /** POST /orders until 202 (a 503 or a network error is retried with the same key); as the client key unless `apiKey`. */
    async placeOrder(
      body: unknown,
      timeoutMs = 30_000,
      apiKey = keys.apiKey,
    ): Promise<{ orderId: string; attempts: number }> {
      const key = randomUUID()
      let attempts = 0
      const accepted = await waitFor(
        async () => {
          attempts++
          const res = await fetch(`${urls.order}/orders`, {
            method: 'POST',
            headers: { ...bearer(apiKey), 'Content-Type': 'application/json', 'Idempotency-Key': key },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(5_000),
          })
          if (res.status === 503) return undefined
          return await json<{ orderId: string }>(res, 'POST /orders')
        },
        { timeoutMs, intervalMs: 250, message: 'POST /orders accepted' },
      )
      return { orderId: accepted.orderId, attempts }
    },
    getOrder,
    waitForFinal(orderId: string, timeoutMs = 30_000, apiKey = keys.apiKey): Promise<OrderView> {
      return waitFor(
        async () => {
          const view = await getOrder(orderId, apiKey)
          return view && (view.status === 'confirmed' || view.status === 'cancelled') ? view : undefined
        },
        { timeoutMs, intervalMs: 200, message: `order ${orderId} confirmed or cancelled` },
      )
    },
    async setStock(sku: string, onHand: number, priceCents: number): Promise<void> {
      const res = await fetch(`${urls.inventory}/inventory/${sku}`, {
        method: 'PUT',
        headers: { ...bearer(keys.adminApiKey), 'Content-Type': 'application/json' },
        body: JSON.stringify({ onHand, priceCents }),
        signal: AbortSignal.timeout(5_000),
      })
      await json(res, `PUT /inventory/${sku}`)
    },
    async getStock(sku: string): Promise<StockView> {
      return json<StockView>(
        await fetch(`${urls.inventory}/inventory/${sku}`, { signal: AbortSignal.timeout(5_000) }),
        `GET /inventory/${sku}`,
      )
    },
    async charges(orderId: string): Promise<ChargeView[]> {
      const res = await fetch(`${urls.gateway}/charges?orderId=${encodeURIComponent(orderId)}`, {
        headers: bearer(keys.gatewaySecretKey),
        signal: AbortSignal.timeout(5_000),
      })
      return (await json<{ charges: ChargeView[] }>(res, 'GET /charges')).charges
    },
  }
}

export type SagaClient = ReturnType<typeof createSagaClient>
