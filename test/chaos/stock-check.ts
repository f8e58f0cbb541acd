// Stock conservation per sku, from `GET /inventory/{sku}` once every order is
// final: initial = available + reserved + sold, sold = what confirmed orders
// bought, nothing left reserved, nothing ever negative.
import { waitFor, WaitForTimeoutError } from '../harness/wait-for.ts'
import type { OrderView, StockView } from '../support/saga-stack.ts'
import type { CatalogEntry } from './order-mix.ts'
import { formatTable, sample, type CheckResult } from './report.ts'
import { badStock, type StockSamples } from './stock-sampler.ts'

async function readStock(inventoryUrl: string, sku: string): Promise<StockView> {
  const res = await fetch(`${inventoryUrl}/inventory/${sku}`, { signal: AbortSignal.timeout(2_000) })
  if (res.status !== 200) throw new Error(`GET /inventory/${sku}: ${res.status}`)
  return (await res.json()) as StockView
}

export interface StockReport {
  checks: CheckResult[]
  table: string
}

export async function checkStock(
  inventoryUrl: () => string,
  catalog: readonly CatalogEntry[],
  views: ReadonlyMap<string, OrderView>,
  samples: StockSamples,
  releaseTimeoutMs = 20_000,
): Promise<StockReport> {
  const readAll = (): Promise<StockView[]> =>
    Promise.all(catalog.map((c) => readStock(inventoryUrl(), c.sku)))
  let finalStock: StockView[]
  try {
    // A release follows payments.failed, which the projection may show first: give it a moment.
    finalStock = await waitFor(
      async () => {
        const all = await readAll()
        return all.every((s) => s.reserved === 0) ? all : undefined
      },
      { timeoutMs: releaseTimeoutMs, intervalMs: 250, message: 'no stock reserved' },
    )
  } catch (error) {
    if (!(error instanceof WaitForTimeoutError)) throw error
    finalStock = await readAll()
  }
  const boughtBySku = new Map<string, number>()
  for (const view of views.values()) {
    if (view.status !== 'confirmed') continue
    for (const item of view.items ?? [])
      boughtBySku.set(item.sku, (boughtBySku.get(item.sku) ?? 0) + item.quantity)
  }
  const rows: string[][] = []
  const unbalanced: string[] = []
  const soldWrong: string[] = []
  const stillReserved: string[] = []
  const negative = [...samples.violations]
  const confirmedWithoutItems = [...views.values()]
    .filter((v) => v.status === 'confirmed' && v.items === undefined)
    .map((v) => v.orderId)
  for (const entry of catalog) {
    const stock = finalStock.find((s) => s.sku === entry.sku)
    if (stock === undefined) continue
    const sold = entry.onHand - stock.onHand
    const bought = boughtBySku.get(entry.sku) ?? 0
    const bad = badStock(stock)
    if (bad !== undefined) negative.push(`final ${bad}`)
    if (stock.available + stock.reserved + sold !== entry.onHand) unbalanced.push(entry.sku)
    if (sold !== bought) soldWrong.push(`${entry.sku}: sold ${sold}, confirmed orders bought ${bought}`)
    if (stock.reserved !== 0) stillReserved.push(`${entry.sku}: ${stock.reserved}`)
    rows.push([
      entry.sku,
      String(entry.onHand),
      String(stock.available),
      String(stock.reserved),
      String(sold),
      String(bought),
      bad === undefined && sold === bought && stock.reserved === 0 ? 'ok' : 'FAIL',
    ])
  }
  const checks: CheckResult[] = [
    {
      check: 'stock: initial = available + reserved + sold',
      ok: unbalanced.length === 0,
      detail: unbalanced.length === 0 ? `${catalog.length} skus` : sample(unbalanced),
    },
    {
      check: 'stock: sold = bought by confirmed orders',
      ok: soldWrong.length === 0 && confirmedWithoutItems.length === 0,
      detail: soldWrong.length === 0 ? 'every sku' : sample(soldWrong, 3),
    },
    {
      check: 'stock: never negative (sampled)',
      ok: negative.length === 0,
      detail:
        negative.length === 0
          ? `${samples.samples} samples, ${samples.failedReads} failed reads`
          : sample(negative, 3),
    },
    {
      check: 'stock: nothing reserved once final',
      ok: stillReserved.length === 0,
      detail: stillReserved.length === 0 ? 'reserved 0 everywhere' : sample(stillReserved),
    },
  ]
  const table = formatTable(
    ['sku', 'initial', 'available', 'reserved', 'sold', 'bought by confirmed', 'ok'],
    rows,
  )
  return { checks, table }
}
