import { describe, expect, it } from 'vitest'
import { createLogger } from '../../shared/observability/logger.ts'
import { createMetrics } from '../../shared/observability/metrics.ts'
import { createApp } from './app.ts'
import { setStock } from './domain.ts'
import type { StockRecord } from './records.ts'

function appWithMemory() {
  const records = new Map<string, StockRecord>()
  return createApp({
    store: {
      getStock: (sku) => Promise.resolve(records.get(sku) ?? null),
      setStock: (sku, request) => {
        const decision = setStock(records.get(sku) ?? null, sku, request)
        if (decision.kind === 'ok') records.set(sku, decision.record)
        return Promise.resolve(decision)
      },
    },
    logger: createLogger({ service: 'inventory', level: 'silent' }),
    metrics: createMetrics('inventory'),
    checkReady: () => Promise.resolve({ ok: true }),
  })
}

const put = (app: ReturnType<typeof appWithMemory>, sku: string, body: unknown) =>
  app.request(`/inventory/${sku}`, {
    method: 'PUT',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' },
  })

describe('inventory HTTP', () => {
  it('creates with 201, updates with 200 and reads the stock view', async () => {
    const app = appWithMemory()
    expect((await put(app, 'SKU-1', { onHand: 5, priceCents: 999 })).status).toBe(201)
    expect((await put(app, 'SKU-1', { onHand: 7, priceCents: 999 })).status).toBe(200)
    const res = await app.request('/inventory/SKU-1')
    expect(await res.json()).toStrictEqual({
      sku: 'SKU-1',
      onHand: 7,
      reserved: 0,
      available: 7,
      priceCents: 999,
    })
  })

  it.each([
    [{ onHand: -1, priceCents: 1 }],
    [{ onHand: 1.5, priceCents: 1 }],
    [{ onHand: 1 }],
    [{ onHand: 1, priceCents: 1, extra: true }],
  ])('rejects %j with 400', async (body) => {
    const res = await put(appWithMemory(), 'SKU-1', body)
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: string }).error).toBe('invalid_stock')
  })

  it('answers 404 for an unknown sku and 400 for a malformed one', async () => {
    const app = appWithMemory()
    expect((await app.request('/inventory/NOPE')).status).toBe(404)
    expect((await app.request('/inventory/bad%20sku')).status).toBe(400)
  })
})
