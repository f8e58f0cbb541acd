// The operator console in a real browser (Debian's chromium through
// playwright-core) on the real saga: sign in with the keyboard, watch placed
// orders reach `confirmed` in the live list, open a timeline, cancel an order,
// follow a failed payment into the dead letters and replay it once fixed.
// Screenshots of each step go to docs/console/ (docs/console.md shows them).
import { existsSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateSealingKeyPair } from '../shared/security/sealed-token.ts'
import { testSecrets } from './harness/test-secrets.ts'
import { waitFor } from './harness/wait-for.ts'
import {
  reviveWorker,
  startSagaStack,
  startWorker,
  type SagaStack,
  type ServiceProcess,
} from './support/saga-stack.ts'

/** Debian's chromium (`apt-get install chromium`; .ci/run installs it). */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium'
/**
 * Where the screenshots go: a temp folder, unless CONSOLE_SCREENSHOTS_DIR names
 * one (docs/console to refresh the committed ones; docs/console.md says how).
 */
const SHOTS = process.env['CONSOLE_SCREENSHOTS_DIR'] ?? join(tmpdir(), `console-shots-${process.pid}`)
const DEADLINE_MS = 20_000

let stack: SagaStack
let consoleWorker: ServiceProcess
let browser: Browser
let page: Page
const extra: ServiceProcess[] = []
const pageErrors: string[] = []
const offSite: string[] = []

const order = (customerId: string, sku: string, quantity = 1) => ({
  customerId,
  items: [{ sku, quantity }],
  paymentToken: 'tok_ok',
})

/** Starts a payment worker on the port the console reads the breaker from. */
async function restartPayment(env: Record<string, string> = {}): Promise<ServiceProcess> {
  const port = new URL(stack.payment.url).port
  for (const running of [stack.payment, ...extra])
    if (running.handle.running) await running.handle.stop(5_000)
  const payment = await startWorker('payment', {
    NATS_URL: stack.natsUrls.join(','),
    PAYMENT_GATEWAY_URL: stack.gateway.url,
    CONSUMER_MAX_DELIVER: '2',
    PORT: port,
    ...env,
  })
  extra.push(payment)
  return payment
}

const row = (orderId: string, status?: string) =>
  page.locator(`#orders-table tr[data-order-id="${orderId}"]${status ? `[data-status="${status}"]` : ''}`)

async function shot(name: string, selector?: string): Promise<void> {
  const path = join(SHOTS, `${name}.png`)
  if (selector === undefined) await page.screenshot({ path })
  else await page.locator(selector).screenshot({ path })
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium`)
  mkdirSync(SHOTS, { recursive: true })
  stack = await startSagaStack({ workerEnv: { CONSUMER_MAX_DELIVER: '2' } })
  consoleWorker = await startWorker('console', {
    NATS_URL: stack.natsUrls.join(','),
    CONSOLE_ORDER_URL: stack.order.url,
    CONSOLE_PAYMENT_URL: stack.payment.url,
    CONSOLE_INDEX_DELAY_MS: '50',
  })
  for (const [sku, onHand, price] of [
    ['MUG-002', 25, 1250],
    ['BOOK-001', 100, 1999],
    ['POSTER-004', 40, 1500],
  ] as const)
    await stack.setStock(sku, onHand, price)
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, timeout: 30_000 })
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  page.setDefaultTimeout(DEADLINE_MS)
  page.on('pageerror', (error) => pageErrors.push(error.message))
  // A file the page or the browser asks for and does not get (an icon, a script); the API's refusals are the tests' own.
  page.on('console', (message) => {
    const url = message.location().url
    if (message.type() === 'error' && !(url !== '' && new URL(url).pathname.startsWith('/console/api/')))
      pageErrors.push(`${message.text()} (${url})`)
  })
  page.on('request', (r) => {
    if (!r.url().startsWith(consoleWorker.url)) offSite.push(r.url())
  })
  page.on('dialog', (dialog) => void dialog.accept())
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await consoleWorker?.handle.stop(5_000)
  await Promise.allSettled(extra.map((w) => w.handle.stop(5_000)))
  await stack?.dispose()
})

describe('operator console in Chromium', () => {
  it('signs in with the keyboard: every control has a label, the key stays in the tab', async () => {
    await page.goto(`${consoleWorker.url}/console`)
    const unlabelled = await page.$$eval('input, select', (els) =>
      els
        .filter((e) => e.id === '' || document.querySelector(`label[for="${e.id}"]`) === null)
        .map((e) => e.outerHTML),
    )
    expect(unlabelled).toStrictEqual([])
    await page.keyboard.press('Tab') // the skip link
    await page.keyboard.press('Tab')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('api-key')
    await page.keyboard.type(testSecrets().apiKeys['admin']?.key ?? '')
    await page.keyboard.press('Enter')
    await page.locator('#live-state', { hasText: 'Live updates on' }).waitFor()
    expect(await page.locator('#console').isVisible()).toBe(true)
    expect(await page.evaluate(() => Object.keys(sessionStorage))).toStrictEqual(['orderSagaConsoleKey'])
    expect(await page.evaluate(() => Object.keys(localStorage))).toStrictEqual([])
  })

  it('shows placed orders reaching confirmed in the live list', async () => {
    const placed: string[] = []
    for (const [customer, sku] of [
      ['alice', 'MUG-002'],
      ['bob', 'BOOK-001'],
      ['carol', 'POSTER-004'],
    ] as const)
      placed.push((await stack.placeOrder(order(customer, sku, 2))).orderId)
    for (const id of placed) await row(id, 'confirmed').waitFor()
    const shown = await page.$$eval('#orders-table tbody tr', (rows) =>
      rows.map((r) => r.getAttribute('data-order-id')),
    )
    expect(shown.slice(0, 3)).toStrictEqual([...placed].reverse())
    await shot('orders-live')
  })

  it("opens an order's timeline with every event, its consumers and deliveries", async () => {
    const { orderId } = await stack.placeOrder(order('dave', 'MUG-002'))
    await row(orderId, 'confirmed').waitFor()
    await page.getByRole('button', { name: `Open order ${orderId}` }).click()
    await page.locator('#order-title', { hasText: orderId }).waitFor()
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('order-title')
    await page.locator('#timeline-table tr[data-event="payments.completed"]').waitFor()
    const events = await page.$$eval('#timeline-table tbody tr', (rows) =>
      rows.map((r) => r.getAttribute('data-event')),
    )
    expect(events).toStrictEqual(['orders.created', 'inventory.reserved', 'payments.completed'])
    await page.locator('#timeline-table li[data-consumer="payment"].state-acked').waitFor()
    await shot('timeline', '#order')
  })

  it('cancels the open order through the cancellation API: refunded, shown as compensations', async () => {
    const orderId = (await page.locator('#order').getAttribute('data-order-id')) ?? ''
    await page.getByRole('button', { name: 'Cancel this order' }).click()
    await page.locator('#notice', { hasText: `Cancellation requested for order ${orderId}` }).waitFor()
    await row(orderId, 'cancelled').waitFor()
    await page.locator('#timeline-table tr[data-event="payments.refunded"]').waitFor()
    await page.locator('#compensations li', { hasText: 'refund' }).waitFor()
    // The refund is in the timeline before the status record says cancelled: the next refresh disables the button.
    await page.locator('#order-cancel:disabled').waitFor({ timeout: 10_000 })
    expect(await page.locator('#order-cancel').isDisabled()).toBe(true)
    await shot('cancelled', '#order')
  })

  it('shows an error as one, kept in view, until a later load succeeds', async () => {
    await page.locator('#dlq-subject').fill('orders.created')
    await page.locator('#dlq-subject').press('Enter')
    await page.locator('#notice.notice-error', { hasText: 'is not a dead-letter subject' }).waitFor()
    await page.locator('#dlq-subject').fill('dlq.orders.created')
    await page.locator('#dlq-subject').press('Enter')
    await page.locator('#notice:not(.notice-error)').waitFor()
    expect(await page.locator('#notice').textContent()).toBe('')
    await page.locator('#dlq-subject').fill('')
  })

  it('follows a payment that failed every delivery into the dead letters, and replays it once fixed', async () => {
    const wrongKey = await generateSealingKeyPair()
    await restartPayment({ PAYMENT_TOKEN_PRIVATE_KEYS: JSON.stringify([wrongKey.privateJwk]) })
    const { orderId } = await stack.placeOrder(order('erin', 'BOOK-001'))
    await row(orderId, 'reserved').waitFor()
    await page.getByRole('button', { name: `Open order ${orderId}` }).click()
    const dead = page.locator('#order-dead-letters li', { hasText: 'inventory.reserved from payment' })
    for (const started = Date.now(); !(await dead.isVisible());) {
      if (Date.now() - started > 30_000) throw new Error('no dead letter shown within 30 s')
      await page.locator('#order-refresh').click()
      await page.waitForTimeout(500)
    }
    await page.locator('#timeline-table li[data-consumer="payment"].state-dead_lettered').waitFor()
    expect(await page.locator('#timeline-table li[data-consumer="payment"]').textContent()).toMatch(
      /2 deliveries, failed delivery 1 \(nak\)/,
    )
    await shot('timeline-dead-letter', '#order')

    await page.locator('#dlq-filter button[type="submit"]').click()
    const letter = page.locator('#dlq-table tbody tr', { hasText: 'inventory.reserved' }).first()
    await letter.waitFor()
    await shot('dead-letters', '#dead-letters')
    const id = (await letter.getAttribute('data-dead-letter')) ?? ''

    await restartPayment()
    await page
      .locator('#dlq-table')
      .getByRole('button', { name: `Replay dead letter ${id}` })
      .click()
    await page.locator('#notice', { hasText: `Replayed dead letter ${id} to inventory.reserved` }).waitFor()
    await row(orderId, 'confirmed').waitFor()
  })

  it('pages to older orders after live updates pushed rows off the first page, skipping none', async () => {
    await stack.setStock('BOOK-001', 500, 1999)
    const placed: string[] = []
    // More than a page: the live list drops rows from its bottom as these arrive at its top.
    for (let i = 0; i < 55; i++)
      placed.push((await stack.placeOrder(order(`pager-${i}`, 'BOOK-001'))).orderId)
    await page.locator(`#orders-table tbody tr:first-child[data-order-id="${placed.at(-1)}"]`).waitFor()
    // Newest first, once the index holds every order placed: the live list is
    // fed by the projection and can show an order before its index entry is written.
    const all = await waitFor(
      async () => {
        const res = await fetch(`${consoleWorker.url}/console/api/orders?limit=100`, {
          headers: { Authorization: `Bearer ${testSecrets().apiKeys['admin']?.key ?? ''}` },
        })
        const ids = ((await res.json()) as { orders: { orderId: string }[] }).orders.map((o) => o.orderId)
        return placed.every((id) => ids.includes(id)) ? ids : undefined
      },
      { timeoutMs: 15_000, intervalMs: 100, message: 'every placed order in the console index' },
    )
    expect(all.length).toBeGreaterThan(55)
    await page.locator('#page-older').click()
    // The 51st newest order opens the second page: not the one after the rows the first page was loaded with.
    await page.locator(`#orders-table tbody tr:first-child[data-order-id="${all[50]}"]`).waitFor()
    await page.locator('#page-newer').click()
    await page.locator('#orders-table tbody tr:first-child[data-order-id]').waitFor()
    await stack.moneyBalanced()
  })

  it('follows an order opened by its id in upper case as its status changes', async () => {
    const { orderId } = await stack.placeOrder(order('gina', 'MUG-002'))
    await row(orderId, 'confirmed').waitFor()
    await page.locator('#search-order').fill(orderId.toUpperCase())
    await page.locator('#search-order').press('Enter')
    await page.locator('#order-title', { hasText: orderId }).waitFor()
    await page.locator('#search-order').fill('')
    // Cancelled elsewhere: the live change refreshes the open timeline, no click needed.
    expect((await stack.cancelOrder(orderId)).status).toBe(202)
    await page.locator('#timeline-table tr[data-event="payments.refunded"]').waitFor()
  })

  it('keeps the key through a console that does not answer at sign-in, and says so when an action gets no answer', async () => {
    const unavailable = JSON.stringify({
      error: 'unavailable',
      message: 'NATS did not answer in time; retry shortly',
    })
    await page.route('**/console/api/consumers', (route) =>
      route.fulfill({ status: 503, contentType: 'application/json', body: unavailable }),
    )
    try {
      await page.reload()
      await page.locator('#sign-in-error', { hasText: 'trying again every 3 s' }).waitFor()
      expect(await page.evaluate(() => Object.keys(sessionStorage))).toStrictEqual(['orderSagaConsoleKey'])
    } finally {
      await page.unroute('**/console/api/consumers')
    }
    // Asked again by itself once the console answers.
    await page.locator('#live-state', { hasText: 'Live updates on' }).waitFor()
    const orderId = (await stack.placeOrder(order('hank', 'MUG-002'))).orderId
    await page.getByRole('button', { name: `Open order ${orderId}` }).click()
    await page.locator('#order-title', { hasText: orderId }).waitFor()
    await page.route('**/console/api/orders/*/cancel', (route) => route.abort('connectionrefused'))
    try {
      await page.getByRole('button', { name: 'Cancel this order' }).click()
      await page
        .locator('#notice.notice-error', {
          hasText: 'the console did not answer (network error): the action may have been done',
        })
        .waitFor()
    } finally {
      await page.unroute('**/console/api/orders/*/cancel')
    }
  })

  it('shows the orders placed while the console was down once its live stream is back, without a reload', async () => {
    await consoleWorker.handle.stop(5_000)
    await page.locator('#live-state', { hasText: 'Live updates reconnecting' }).waitFor()
    const { orderId } = await stack.placeOrder(order('iris', 'MUG-002'))
    await stack.waitForFinal(orderId)
    await reviveWorker(consoleWorker)
    await page.locator('#live-state', { hasText: 'Live updates on' }).waitFor()
    await row(orderId, 'confirmed').waitFor()
  })

  it('shows consumer lag, the payment breaker and stock; nothing loaded from elsewhere, no script errors', async () => {
    await page.locator('#breaker.breaker-closed').waitFor()
    await page.locator('#consumers-table tr[data-consumer="payment"]').waitFor()
    await page.locator('#stock-table tr[data-sku="MUG-002"]').waitFor()
    await page.locator('#health').scrollIntoViewIfNeeded()
    await shot('health', '#health')
    await shot('stock', '#stock')
    expect(pageErrors).toStrictEqual([])
    expect(offSite).toStrictEqual([])
  })
})
