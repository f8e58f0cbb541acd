// Readiness of the workers npm start runs, and the demo catalog it seeds.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../nats-server-bin.ts'

/** Polls `<url>/ready` until it answers 2xx; rejects after `timeoutMs` or when `abort` fires. */
export async function waitReady(
  name: string,
  url: string,
  timeoutMs = 60_000,
  abort?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    abort?.throwIfAborted()
    const ok = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(1_000) }).then(
      (r) => r.ok,
      () => false,
    )
    if (ok) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`${name} not ready at ${url}/ready within ${timeoutMs / 1000} s`)
}

/** Puts the demo stock (scripts/demo-catalog.json) for every sku that has no stock record yet. */
export async function seedCatalog(
  inventoryUrl: string,
  headers: Record<string, string> = {},
  /** Each request's deadline. */
  timeoutMs = 10_000,
): Promise<string> {
  const catalog = JSON.parse(readFileSync(join(projectRoot, 'scripts', 'demo-catalog.json'), 'utf8')) as {
    items: { sku: string; onHand: number; priceCents: number }[]
  }
  let seeded = 0
  for (const { sku, onHand, priceCents } of catalog.items) {
    // Present (200) is left alone, absent (404) is put; anything else is a failure, not "present".
    const existing = await fetch(`${inventoryUrl}/inventory/${sku}`, {
      headers,
      signal: AbortSignal.timeout(timeoutMs),
    })
    if (existing.status === 200) continue
    if (existing.status !== 404)
      throw new Error(`seeding ${sku}: GET answered ${existing.status} ${await existing.text()}`)
    const res = await fetch(`${inventoryUrl}/inventory/${sku}`, {
      method: 'PUT',
      headers: { ...headers, 'Content-Type': 'application/json' },
      body: JSON.stringify({ onHand, priceCents }),
      signal: AbortSignal.timeout(timeoutMs),
    })
    if (!res.ok) throw new Error(`seeding ${sku}: ${res.status} ${await res.text()}`)
    seeded++
  }
  return `demo catalog: ${seeded} skus seeded, ${catalog.items.length - seeded} already present`
}
