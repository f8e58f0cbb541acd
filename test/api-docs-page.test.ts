// The docs page in a real browser (Debian's chromium through playwright-core):
// /docs of the real gateway worker (`bun run`), and of the intake, inventory,
// payment and console apps served in process, renders every route of the service's /openapi.json,
// with no network beyond the service itself.
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiDocsRoutes } from '../shared/http/api-docs.ts'
import { createTestVerifier } from '../shared/http/api-keys-fixture.ts'
import type { OpenApiDocument } from '../shared/http/openapi.ts'
import { createObservabilityApp } from '../shared/http/observability-app.ts'
import { createRateLimiter } from '../shared/http/rate-limit.ts'
import { swaggerUiAssets } from '../shared/http/swagger-ui-assets.ts'
import { createLogger } from '../shared/observability/logger.ts'
import { createMetrics } from '../shared/observability/metrics.ts'
import { serveHttp, type HttpServer } from '../shared/runtime/server.ts'
import { createConsoleApp } from '../workers/console/app.ts'
import { createApp as createInventoryApp } from '../workers/inventory/app.ts'
import { createApp as createOrderApp } from '../workers/order/app.ts'
import { orderOpenApi } from '../workers/order/openapi.ts'
import { startWorker, type ServiceProcess } from './support/worker-process.ts'

/** Debian's chromium (`apt-get install chromium`; .ci/run installs it). */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'
const PAGE_DEADLINE_MS = 20_000

let browser: Browser | undefined
let gateway: ServiceProcess | undefined
const servers: HttpServer[] = []
/** Base URL of each service. */
const bases: Record<string, string> = {}

async function serveInProcess(app: { fetch: (request: Request) => Response | Promise<Response> }) {
  const server = await serveHttp({ fetch: (request) => app.fetch(request), port: 0, hostname: '127.0.0.1' })
  servers.push(server)
  return `http://127.0.0.1:${server.port}`
}

async function inProcessServices(): Promise<Record<string, string>> {
  const verifier = await createTestVerifier()
  const common = {
    logger: createLogger({ service: 'docs-test', level: 'silent' }),
    checkReady: () => Promise.resolve({ ok: true }),
    verifier,
    limiter: createRateLimiter({ perSecond: 100, burst: 100 }),
  }
  const order = createOrderApp({
    ...common,
    metrics: createMetrics('order'),
    store: {
      placeOrder: () => Promise.reject(new Error('not in this test')),
      getOrder: () => Promise.resolve(null),
      requestCancellation: () => Promise.resolve(),
    },
    apiDocs: createApiDocsRoutes({ document: orderOpenApi, assets: swaggerUiAssets }),
  })
  const inventory = createInventoryApp({
    ...common,
    metrics: createMetrics('inventory'),
    store: { getStock: () => Promise.resolve(null), setStock: () => Promise.reject(new Error('not here')) },
  })
  // payment and order-status: the shared routes only (createObservabilityApp).
  const payment = createObservabilityApp({
    ...common,
    service: 'payment',
    metrics: createMetrics('payment'),
    docsAssets: swaggerUiAssets,
  })
  // The console: only its page and documents are asked for here.
  const notHere = () => Promise.reject(new Error('not in this test'))
  const consoleApp = createConsoleApp({
    ...common,
    metrics: createMetrics('console'),
    data: {
      searchOrders: notHere,
      orderWithTimeline: notHere,
      cancelOrder: notHere,
      deadLetters: notHere,
      deadLetter: notHere,
      replayDeadLetter: notHere,
      removeDeadLetter: notHere,
      purgeDeadLetters: notHere,
      consumers: notHere,
      breaker: notHere,
      stock: notHere,
      live: { subscribe: () => () => undefined },
    },
  })
  return {
    order: await serveInProcess(order),
    inventory: await serveInProcess(inventory),
    payment: await serveInProcess(payment),
    console: await serveInProcess(consoleApp),
  }
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium`)
  gateway = await startWorker('gateway', {})
  Object.assign(bases, { gateway: gateway.url }, await inProcessServices())
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, timeout: 30_000 })
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await gateway?.handle.stop(5_000)
  await Promise.allSettled(servers.map((s) => s.close()))
})

/** `METHOD /path` of every operation of the document at `base`. */
async function documentedOperations(base: string): Promise<string[]> {
  const document = (await (await fetch(`${base}/openapi.json`)).json()) as OpenApiDocument
  return Object.entries(document.paths)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`))
    .sort()
}

/** The operations the page shows, once it shows as many as expected (or the deadline passes). */
async function shownOperations(base: string, expected: number) {
  if (browser === undefined) throw new Error('no browser')
  const context = await browser.newContext()
  const requests: string[] = []
  const failed: string[] = []
  try {
    const page = await context.newPage()
    page.on('request', (request) => requests.push(request.url()))
    page.on('requestfailed', (request) => failed.push(request.url()))
    page.on('pageerror', (error) => failed.push(`page error: ${error.message}`))
    // Anything the page's Content-Security-Policy refused is a failure too.
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) failed.push(`refused: ${message.text()}`)
    })
    const response = await page.goto(`${base}/docs`, { timeout: PAGE_DEADLINE_MS })
    expect(response?.status()).toBe(200)
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'")
    await page.waitForFunction((n) => document.querySelectorAll('.opblock').length >= n, expected, {
      timeout: PAGE_DEADLINE_MS,
    })
    const shown = await page.$$eval('.opblock', (blocks) =>
      blocks.map((block) => {
        const method = block.querySelector('.opblock-summary-method')?.textContent ?? '?'
        const path = block.querySelector('.opblock-summary-path')?.getAttribute('data-path') ?? '?'
        return `${method.trim().toUpperCase()} ${path}`
      }),
    )
    const title = await page.locator('.info .title').first().textContent({ timeout: PAGE_DEADLINE_MS })
    return { shown: shown.sort(), title, requests, failed }
  } finally {
    await context.close()
  }
}

describe('the docs page in Chromium', () => {
  it.each(['gateway', 'order', 'inventory', 'payment', 'console'])(
    'lists every route of the %s document, loading nothing from elsewhere',
    async (name) => {
      const base = bases[name] ?? ''
      const operations = await documentedOperations(base)
      const { shown, title, requests, failed } = await shownOperations(base, operations.length)
      expect(shown).toStrictEqual(operations)
      expect(title).toMatch(/\S/)
      expect(failed).toStrictEqual([])
      expect(requests.filter((url) => !url.startsWith(base))).toStrictEqual([])
    },
    60_000,
  )
})
