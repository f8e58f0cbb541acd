// Reads every sku's stock while the run goes on: no count may ever be negative,
// nor more reserved than on hand.
import type { StockView } from '../support/saga-stack.ts'

export interface StockSamples {
  samples: number
  /** Reads that failed (the inventory worker down, say): not evidence either way. */
  failedReads: number
  /** Every sample that broke the rule, as text. */
  violations: string[]
}

export interface StockSampler {
  stop(): Promise<StockSamples>
}

export function badStock(view: StockView): string | undefined {
  const { onHand, reserved, available } = view
  if (onHand < 0 || reserved < 0 || available < 0 || reserved > onHand || available + reserved !== onHand) {
    return `${view.sku}: onHand ${onHand}, reserved ${reserved}, available ${available}`
  }
  return undefined
}

export function startStockSampler(
  inventoryUrl: () => string,
  skus: readonly string[],
  intervalMs = 250,
): StockSampler {
  const result: StockSamples = { samples: 0, failedReads: 0, violations: [] }
  let running = true
  const read = async (sku: string): Promise<void> => {
    try {
      const res = await fetch(`${inventoryUrl()}/inventory/${sku}`, { signal: AbortSignal.timeout(2_000) })
      if (res.status !== 200) {
        result.failedReads++
        return
      }
      const bad = badStock((await res.json()) as StockView)
      result.samples++
      if (bad !== undefined) result.violations.push(`${new Date().toISOString()} ${bad}`)
    } catch {
      result.failedReads++
    }
  }
  const loop = (async () => {
    while (running) {
      await Promise.all(skus.map(read))
      // The sampling period.
      await new Promise((resolve) => setTimeout(resolve, intervalMs))
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      return result
    },
  }
}
