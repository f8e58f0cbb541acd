import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnService, stopAllServices, type ServiceHandle } from '../../test/harness/process.ts'
import { waitFor } from '../../test/harness/wait-for.ts'

const root = fileURLToPath(new URL('../../', import.meta.url))
const bun = `${root}node_modules/.bin/bun`
const gatewayArgs = ['run', 'workers/gateway/main.ts']

type LogLine = Record<string, unknown>
const parseLog = (line: string): LogLine | undefined =>
  line.startsWith('{') ? (JSON.parse(line) as LogLine) : undefined

/** Resolves with `promise`, or rejects once `ms` have passed. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let settled: { value: T } | undefined
  void promise.then((value) => (settled = { value }))
  return waitFor(() => settled, { timeoutMs: ms, intervalMs: 10, message: what }).then(({ value }) => value)
}

/** The first log line of `service` that matches, waited for with a deadline. */
async function waitForLog(service: ServiceHandle, match: (log: LogLine) => boolean): Promise<LogLine> {
  const line = await service.waitForLine((l) => {
    const log = parseLog(l)
    return log !== undefined && match(log)
  }, 5_000)
  return parseLog(line) ?? {}
}

const SECRET_KEY = 'gw_sk_process_test'
const authorized = { Authorization: `Bearer ${SECRET_KEY}` }

const body = (token: string, orderId: string) =>
  JSON.stringify({ amountCents: 1250, currency: 'EUR', token, orderId })

describe('gateway process', () => {
  let gateway: ServiceHandle
  let base = ''
  const post = (key: string, payload: string, signal?: AbortSignal) =>
    fetch(`${base}/charges`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key, ...authorized },
      body: payload,
      ...(signal ? { signal } : {}),
    })

  beforeAll(async () => {
    gateway = await spawnService({
      cmd: bun,
      args: gatewayArgs,
      cwd: root,
      env: {
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'debug',
        GATEWAY_FAILURE_RATE: '0',
        GATEWAY_SLOW_MS: '15000',
        GATEWAY_SECRET_KEY: SECRET_KEY,
      },
      readyLine: /"msg":"listening"/,
    })
    const listening = await waitForLog(gateway, (log) => log.msg === 'listening')
    base = `http://127.0.0.1:${String(listening.port)}`
  })

  afterAll(() => stopAllServices())

  it('charges once over real HTTP and lists the charge for its order', async () => {
    const first = await post('e2e-key-1', body('tok_ok', 'e2e-order-1'))
    const replay = await post('e2e-key-1', body('tok_ok', 'e2e-order-1'))
    const charge = (await first.json()) as LogLine
    const listed = await fetch(`${base}/charges?orderId=e2e-order-1`, { headers: authorized })

    expect(first.status).toBe(201)
    expect(charge.id).toMatch(/^ch_[0-9a-f]{32}$/)
    expect(charge.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(charge).toStrictEqual({
      id: charge.id,
      status: 'succeeded',
      amountCents: 1250,
      currency: 'EUR',
      orderId: 'e2e-order-1',
      created: charge.created,
    })
    expect([replay.status, await replay.json()]).toStrictEqual([201, charge])
    expect([listed.status, await listed.json()]).toStrictEqual([200, { charges: [charge] }])
  })

  it('records nothing when the client of a tok_slow charge goes away', async () => {
    const request = post('e2e-key-2', body('tok_slow', 'e2e-order-2'), AbortSignal.timeout(300))

    await expect(request).rejects.toThrow()
    await waitForLog(gateway, (log) => log.orderId === 'e2e-order-2' && log.outcome === 'abandoned')
    const listed = await fetch(`${base}/charges?orderId=e2e-order-2`, { headers: authorized })
    expect(await listed.json()).toStrictEqual({ charges: [] })
  })

  it('answers a waiting charge 503 on SIGTERM and exits 0 within 5 s', async () => {
    const waiting = post('e2e-key-3', body('tok_slow', 'e2e-order-3'))
    await waitForLog(gateway, (log) => log.orderId === 'e2e-order-3' && log.msg === 'charge waiting')

    gateway.signal('SIGTERM')
    const response = await within(5_000, 'the waiting charge to be answered', waiting)
    const exit = await within(5_000, 'the gateway to exit', gateway.exited)

    expect([response.status, await response.json()]).toStrictEqual([503, { error: 'unavailable' }])
    expect(exit).toStrictEqual({ code: 0, signal: null })
    expect(parseLog(gateway.lines().at(-1) ?? '')).toMatchObject({ msg: 'stopped' })
  })
})

describe('gateway command line', () => {
  const run = async (args: string[], env: Record<string, string> = {}) => {
    const service = await spawnService({ cmd: bun, args: [...gatewayArgs, ...args], cwd: root, env })
    const exit = await within(10_000, `gateway ${args.join(' ')} to exit`, service.exited)
    return { code: exit.code, lines: service.lines() }
  }

  it('reads the secret key from GATEWAY_SECRET_KEY_FILE and wants it on charge routes only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-secret-'))
    const file = join(dir, 'secret-key')
    writeFileSync(file, 'gw_sk_from_file\n', { mode: 0o600 })
    try {
      await using gw = await spawnService({
        cmd: bun,
        args: gatewayArgs,
        cwd: root,
        env: { PORT: '0', HOST: '127.0.0.1', GATEWAY_SECRET_KEY_FILE: file },
        readyLine: /"msg":"listening"/,
      })
      const listening = await waitForLog(gw, (log) => log.msg === 'listening')
      const url = `http://127.0.0.1:${String(listening.port)}`
      const list = (key?: string) =>
        fetch(`${url}/charges`, key === undefined ? {} : { headers: { Authorization: `Bearer ${key}` } })

      const [none, wrong, right, health] = await Promise.all([
        list(),
        list('gw_sk_from_file_wrong'),
        list('gw_sk_from_file'),
        fetch(`${url}/health`),
      ])
      expect([none.status, wrong.status, right.status, health.status]).toStrictEqual([401, 401, 200, 200])
      expect(wrong.headers.get('WWW-Authenticate')).toBe('Bearer realm="order-saga", error="invalid_token"')
      expect(gw.lines().join('\n')).not.toContain('gw_sk_from_file')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('prints the package version for --version', async () => {
    expect(await run(['--version'])).toStrictEqual({ code: 0, lines: ['0.1.0'] })
  })

  it('prints every variable for --help', async () => {
    const { code, lines } = await run(['--help'])
    const documented = lines.filter((line) => line.startsWith('  ')).map((line) => line.trim().split(' ')[0])
    expect(code).toBe(0)
    expect(documented).toStrictEqual([
      'PORT',
      'HOST',
      'LOG_LEVEL',
      'GATEWAY_FAILURE_RATE',
      'GATEWAY_LATENCY_MS',
      'GATEWAY_SLOW_MS',
      'GATEWAY_FLAKY_FAILURES',
      'GATEWAY_SECRET_KEY',
      'GATEWAY_MAX_BODY_BYTES',
      'RATE_LIMIT_PER_SECOND',
      'RATE_LIMIT_BURST',
    ])
  })

  it('exits 1 listing every bad variable, without listening', async () => {
    expect(await run([], { PORT: 'http', GATEWAY_FLAKY_FAILURES: '-1', LOG_LEVEL: 'info' })).toStrictEqual({
      code: 1,
      lines: [
        'invalid configuration:',
        '  - PORT: must be an integer',
        '  - GATEWAY_FLAKY_FAILURES: must be >= 0',
        '  - GATEWAY_SECRET_KEY: is required',
      ],
    })
  })
})
