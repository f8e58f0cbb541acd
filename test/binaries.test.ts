// The compiled binaries (`npm run build`, dist/bin/): their command line, that they
// read nothing but their environment, SIGTERM as PID 1, and the order saga end to end
// on the multi-call binary and on the per-service ones. A binary started here
// without startWorker gets its secrets from workerSecrets; healthcheck needs none.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { request } from 'node:http'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildBinaries, sizeReport, type BinaryName } from '../scripts/build.ts'
import { spawnService } from './harness/process.ts'
import { workerSecrets } from './harness/test-secrets.ts'
import { freePort, waitFor } from './harness/wait-for.ts'
import { canUnsharePid, exec, sigtermAsPid1 } from './support/compiled-binary.ts'
import { bearer } from './support/provision.ts'
import { startSagaStack, startWorker, type Command, type SagaStack } from './support/saga-stack.ts'
import { itKeepsTheMoneyInvariant } from './support/money.ts'
import { CONSOLE_PAGE_FILES } from '../workers/console/page/files.ts'

const ROOT = join(import.meta.dirname, '..')
const bin = (name: BinaryName): string => join(ROOT, 'dist', 'bin', name)
const SERVICES = ['order', 'order-status', 'inventory', 'payment', 'gateway', 'analytics', 'console'] as const
// A new PID namespace needs root (CI has it); elsewhere those tests skip, in CI they fail.
const pid1 = it.skipIf(!canUnsharePid() && process.env['CI'] !== 'true')

beforeAll(() => {
  console.log(sizeReport(buildBinaries({ ifStale: true })))
}, 180_000)

describe('compiled binaries: command line', () => {
  it.each([...SERVICES, 'order-saga'] as const)('%s --version prints the package version', async (name) => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }
    expect(await exec(bin(name), ['--version'])).toStrictEqual({ code: 0, out: `${pkg.version}\n` })
  })

  it.each([
    ['order', ['NATS_URL', 'ORDER_MAX_BODY_BYTES', 'ORDER_STATUS_WAIT_MS']],
    ['order-status', ['NATS_URL', 'CONSUMER_MAX_DELIVER']],
    ['inventory', ['NATS_URL', 'INVENTORY_CURRENCY']],
    ['payment', ['NATS_URL', 'PAYMENT_GATEWAY_URL']],
    ['gateway', ['GATEWAY_SLOW_MS', 'HOST']],
    ['analytics', ['NATS_URL', 'ANALYTICS_REPLAY_FROM', '--from']],
    ['console', ['NATS_URL', 'CONSOLE_ORDER_URL', 'CONSOLE_INDEX_DELAY_MS']],
  ] as const)(
    '%s --help lists its environment variables, on its own and through order-saga',
    async (name, vars) => {
      for (const [file, args] of [
        [bin(name), ['--help']],
        [bin('order-saga'), [name, '--help']],
      ] as const) {
        const { code, out } = await exec(file, args)
        expect(code).toBe(0)
        for (const v of [...vars, 'healthcheck']) expect(out).toContain(v)
      }
    },
  )

  it('order-saga names its services, takes one from ORDER_SAGA_SERVICE, and rejects an unknown one', async () => {
    const help = await exec(bin('order-saga'), ['--help'])
    expect(help.code).toBe(0)
    expect(help.out).toContain(
      'services: order, order-status, inventory, payment, gateway (or sandbox), analytics',
    )
    expect(await exec(bin('order-saga'), ['--help'], { ORDER_SAGA_SERVICE: 'payment' })).toMatchObject({
      code: 0,
      out: expect.stringContaining('PAYMENT_GATEWAY_URL'),
    })
    expect(await exec(bin('order-saga'), ['sandbox', '--help'])).toMatchObject({
      code: 0,
      out: expect.stringContaining('GATEWAY_SLOW_MS'),
    })
    for (const args of [['shipping'], ['shipping', '--version'], ['shipping', '--help']]) {
      expect(await exec(bin('order-saga'), args)).toStrictEqual({
        code: 1,
        out: 'order-saga: unknown command shipping (try --help)\n',
      })
    }
  })

  it('healthcheck exits 1 when nothing answers on PORT, saying so', async () => {
    const port = String(await freePort())
    const url = `http://127.0.0.1:${port}/ready`
    expect(await exec(bin('gateway'), ['healthcheck'], { PORT: port })).toStrictEqual({
      code: 1,
      out: expect.stringContaining(`gateway healthcheck: ${url} did not answer`),
    })
    expect(await exec(bin('order-saga'), ['order', 'healthcheck'], { PORT: port })).toStrictEqual({
      code: 1,
      out: expect.stringContaining(`order healthcheck: ${url} did not answer`),
    })
  })

  it('reads neither .env nor bunfig.toml from its working folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'order-saga-cwd-'))
    try {
      await writeFile(join(dir, '.env'), 'GATEWAY_FLAKY_FAILURES=-1\n')
      await writeFile(join(dir, 'bunfig.toml'), 'preload = ["./missing-preload.ts"]\n')
      const gateway = await spawnService({
        cmd: bin('gateway'),
        cwd: dir,
        env: { ...(await workerSecrets('gateway')), PORT: '0', HOST: '127.0.0.1' },
        readyLine: /"msg":"listening"/,
      })
      try {
        const { port } = JSON.parse(gateway.lines().find((l) => l.includes('"msg":"listening"')) ?? '{}') as {
          port?: number
        }
        expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(200)
      } finally {
        await gateway.stop()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('serves the docs files it embeds gzipped, and logs JSON when asked for pretty lines', async () => {
    const gateway = await spawnService({
      cmd: bin('gateway'),
      env: { ...(await workerSecrets('gateway')), PORT: '0', HOST: '127.0.0.1', LOG_FORMAT: 'pretty' },
      readyLine: /"msg":"listening"/,
    })
    try {
      const { port } = JSON.parse(gateway.lines().find((l) => l.includes('"msg":"listening"')) ?? '{}') as {
        port?: number
      }
      for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
        const original = await readFile(join(ROOT, 'node_modules', 'swagger-ui-dist', file))
        const url = `http://127.0.0.1:${port}/docs/${file}`
        const zipped = await rawGet(url, { 'Accept-Encoding': 'br, gzip;q=0.8' })
        expect(zipped.status).toBe(200)
        expect(zipped.headers['content-encoding']).toBe('gzip')
        expect(zipped.headers['vary']).toBe('Accept-Encoding')
        expect(zipped.body.length).toBeLessThan(original.length / 3)
        expect(gunzipSync(zipped.body).equals(original)).toBe(true)
        const plain = await rawGet(url, {})
        expect(plain.headers['content-encoding']).toBeUndefined()
        expect(plain.body.equals(original)).toBe(true)
      }
      // Run from the project folder, whose node_modules holds pino-pretty: the binary loads none of it.
      const said = gateway.lines().find((l) => l.includes('LOG_FORMAT=pretty'))
      expect(JSON.parse(said ?? '{}')).toMatchObject({
        level: 'warn',
        service: 'gateway',
        msg: 'LOG_FORMAT=pretty: not in the compiled binaries; logging JSON',
      })
    } finally {
      await gateway.stop()
    }
  })

  pid1('exits 0 on SIGTERM as PID 1', async () => {
    const { pidInNamespace, exit, lastLine } = await sigtermAsPid1(
      bin('gateway'),
      [],
      await workerSecrets('gateway'),
    )
    expect(pidInNamespace).toBe('1')
    expect(exit).toStrictEqual({ code: 0, signal: null })
    expect(lastLine).toContain('"msg":"stopped"')
  })
})

const variants: [string, Command, 'in-order' | 'own-service'][] = [
  [
    'the multi-call binary, projection as its own service',
    (worker) => ({ cmd: bin('order-saga'), args: [worker] }),
    'own-service',
  ],
  ['one binary per service', (worker) => ({ cmd: bin(worker as BinaryName), args: [] }), 'in-order'],
]

describe.each(variants)('the order saga on %s', (_, command, projection) => {
  let stack: SagaStack
  const order = (sku: string, quantity: number, paymentToken = 'tok_ok') => ({
    customerId: 'cust-bin',
    items: [{ sku, quantity }],
    paymentToken,
  })

  beforeAll(async () => {
    stack = await startSagaStack({ command, projection, analytics: {} })
  }, 90_000)
  afterAll(() => stack?.dispose())

  it('confirms an order: stock sold, one charge', async () => {
    await stack.setStock('BIN-OK', 10, 1250)
    const placed = await stack.placeOrder(order('BIN-OK', 2))
    expect(placed.status).toBe(202)
    expect((await stack.waitForFinal(placed.orderId)).history.map((h) => h.status)).toStrictEqual([
      'pending',
      'reserved',
      'confirmed',
    ])
    const stock = await waitFor(async () => {
      const s = await stack.getStock('BIN-OK')
      return s.reserved === 0 ? s : undefined
    })
    expect(stock).toStrictEqual({ sku: 'BIN-OK', onHand: 8, reserved: 0, available: 8, priceCents: 1250 })
    expect((await stack.charges(placed.orderId)).map((c) => c.amountCents)).toStrictEqual([2500])
  })

  it('cancels an order out_of_stock without touching stock', async () => {
    await stack.setStock('BIN-SHORT', 1, 500)
    const placed = await stack.placeOrder(order('BIN-SHORT', 4))
    expect(await stack.waitForFinal(placed.orderId)).toMatchObject({
      status: 'cancelled',
      reason: 'out_of_stock',
    })
    expect(await stack.getStock('BIN-SHORT')).toStrictEqual({
      sku: 'BIN-SHORT',
      onHand: 1,
      reserved: 0,
      available: 1,
      priceCents: 500,
    })
    expect(await stack.charges(placed.orderId)).toStrictEqual([])
  })

  it('cancels a declined payment and releases the reservation', async () => {
    await stack.setStock('BIN-DECLINE', 3, 700)
    const placed = await stack.placeOrder(order('BIN-DECLINE', 1, 'tok_declined'))
    expect(await stack.waitForFinal(placed.orderId)).toMatchObject({
      status: 'cancelled',
      reason: 'payment_declined',
    })
    await waitFor(async () => (await stack.getStock('BIN-DECLINE')).reserved === 0, {
      message: 'reservation released',
    })
    expect(await stack.charges(placed.orderId)).toStrictEqual([])
  })

  it('counts those orders in the analytics worker', async () => {
    const url = stack.analytics?.url ?? ''
    const totals = await waitFor(
      async () => {
        const res = await fetch(`${url}/analytics/summary`, { headers: bearer('admin') })
        const { totals: t } = (await res.json()) as { totals: { created: number; cancelledTotal: number } }
        return t.created === 3 && t.cancelledTotal === 2 ? t : undefined
      },
      { message: 'analytics counted the three orders' },
    )
    expect(totals).toMatchObject({
      confirmed: 1,
      cancelled: { out_of_stock: 1, payment_declined: 1 },
      revenue: { USD: { grossCents: 2500, refundedCents: 0, netCents: 2500 } },
      topSkus: [{ sku: 'BIN-OK', units: 2 }],
    })
  })

  it('serves the operator console: its index finds those orders', async () => {
    const consoleWorker = await startWorker(
      'console',
      { NATS_URL: stack.server.url, CONSOLE_ORDER_URL: stack.order.url, CONSOLE_INDEX_DELAY_MS: '50' },
      command,
    )
    try {
      expect((await fetch(`${consoleWorker.url}/console`)).status).toBe(200)
      // The page's files come from the binary's embedded gzipped copies: sent as they are to a
      // client that takes gzip, gunzipped to one that does not, the same text either way.
      for (const [path, file] of [
        ['/console', 'console.html'],
        ['/console/console.js', 'console.js'],
        ['/console/console.css', 'console.css'],
      ] as const) {
        const zipped = await fetch(`${consoleWorker.url}${path}`, { headers: { 'Accept-Encoding': 'gzip' } })
        expect(zipped.headers.get('content-encoding')).toBe('gzip')
        expect(zipped.headers.get('content-security-policy')).toContain("script-src 'self'")
        expect(await zipped.text()).toBe(CONSOLE_PAGE_FILES[file].body)
        const plain = await fetch(`${consoleWorker.url}${path}`, {
          headers: { 'Accept-Encoding': 'identity' },
        })
        expect(plain.headers.get('content-encoding')).toBeNull()
        expect(plain.headers.get('content-type')).toBe(CONSOLE_PAGE_FILES[file].contentType)
        expect(await plain.text()).toBe(CONSOLE_PAGE_FILES[file].body)
      }
      // Its own OpenAPI document and docs page, the page's files embedded like every binary's.
      const document = (await (await fetch(`${consoleWorker.url}/openapi.json`)).json()) as {
        info: { title: string }
      }
      expect(document.info.title).toBe('Console')
      expect((await fetch(`${consoleWorker.url}/docs/swagger-ui.css`)).status).toBe(200)
      const found = await waitFor(
        async () => {
          const res = await fetch(`${consoleWorker.url}/console/api/orders?customer=cust-bin`, {
            headers: bearer('admin'),
          })
          const { orders } = (await res.json()) as { orders: { status: string }[] }
          return orders.length === 3 ? orders : undefined
        },
        { message: 'the console indexed the three orders' },
      )
      expect(found.map((o) => o.status).sort()).toStrictEqual(['cancelled', 'cancelled', 'confirmed'])
      const { code } = await exec(command('console').cmd, [...command('console').args, 'healthcheck'], {
        PORT: new URL(consoleWorker.url).port,
      })
      expect(code).toBe(0)
    } finally {
      await consoleWorker.handle.stop(5_000)
    }
  })

  /** The running services that serve HTTP, by name. */
  const httpServices = () =>
    [
      ['order', stack.order],
      ['inventory', stack.inventories[0]],
      ['payment', stack.payment],
      ['gateway', stack.gateway],
      ['analytics', stack.analytics],
      ...(stack.orderStatus === undefined ? [] : [['order-status', stack.orderStatus] as const]),
    ] as const

  it('healthcheck exits 0 for every running service, given only PORT', async () => {
    for (const [name, proc] of httpServices()) {
      const { cmd, args } = command(name)
      const result = await exec(cmd, [...args, 'healthcheck'], { PORT: new URL(proc?.url ?? '').port })
      expect(result, name).toMatchObject({ code: 0 })
    }
  })

  it('serves the docs page and its embedded files on every service', async () => {
    for (const [name, proc] of httpServices()) {
      const page = await fetch(`${proc?.url ?? ''}/docs`)
      expect([name, page.status, page.headers.get('content-type')]).toStrictEqual([
        name,
        200,
        'text/html; charset=UTF-8',
      ])
      const style = await fetch(`${proc?.url ?? ''}/docs/swagger-ui.css`)
      expect([name, style.status, (await style.text()).length > 100_000]).toStrictEqual([name, 200, true])
    }
  })

  pid1('drains and exits 0 on SIGTERM as PID 1 of a NATS worker', async () => {
    const { cmd, args } = command('order')
    const { pidInNamespace, exit, lastLine } = await sigtermAsPid1(cmd, args, {
      ...(await workerSecrets('order')),
      NATS_URL: stack.server.url,
      NATS_CONNECT_TIMEOUT_MS: '10000',
    })
    expect([pidInNamespace, exit]).toStrictEqual(['1', { code: 0, signal: null }])
    expect(lastLine).toContain('"msg":"stopped"')
  })

  itKeepsTheMoneyInvariant(() => stack)
})

/** One GET with exactly these headers (fetch would add Accept-Encoding and decode the body). */
function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      )
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within 10 s`)))
    req.on('error', reject)
    req.end()
  })
}
