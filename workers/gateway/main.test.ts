import pkg from '../../package.json' with { type: 'json' }
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect as connectTcp } from 'node:net'
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
async function waitForLog(
  service: ServiceHandle,
  match: (log: LogLine) => boolean,
  timeoutMs = 5_000,
): Promise<LogLine> {
  const line = await service.waitForLine((l) => {
    const log = parseLog(l)
    return log !== undefined && match(log)
  }, timeoutMs)
  return parseLog(line) ?? {}
}

const SECRET_KEY = 'gw_sk_process_test'
/** Long enough to SIGTERM a waiting charge, short enough to wait one out. */
const SLOW_MS = 3_000
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
        GATEWAY_SLOW_MS: String(SLOW_MS),
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
      amountRefundedCents: 0,
      refunds: [],
    })
    expect([replay.status, await replay.json()]).toStrictEqual([201, charge])
    expect([listed.status, await listed.json()]).toStrictEqual([200, { charges: [charge] }])
  })

  it('completes a tok_slow charge after GATEWAY_SLOW_MS although its client went away', async () => {
    const request = post('e2e-key-2', body('tok_slow', 'e2e-order-2'), AbortSignal.timeout(300))
    await expect(request).rejects.toThrow()
    const attempt = () => fetch(`${base}/charge-attempts/e2e-key-2`, { headers: authorized })

    const processing = await attempt()
    expect([processing.status, await processing.json()]).toStrictEqual([
      200,
      { idempotencyKey: 'e2e-key-2', status: 'processing' },
    ])
    const settled = await waitForLog(
      gateway,
      (log) => log.orderId === 'e2e-order-2' && log.outcome === 'succeeded',
      SLOW_MS + 5_000,
    )
    const listed = await fetch(`${base}/charges?orderId=e2e-order-2`, { headers: authorized })
    const charges = ((await listed.json()) as { charges: LogLine[] }).charges
    expect(charges.map(({ id }) => id)).toStrictEqual([settled.chargeId])
    expect(await (await attempt()).json()).toMatchObject({
      status: 'succeeded',
      charge: { id: settled.chargeId },
    })
  })

  it('tok_drop: the charge is written, the connection reset without an answer, and a retry replays it', async () => {
    const dropped = await post('e2e-key-4', body('tok_drop', 'e2e-order-4')).then(
      () => 'answered',
      (error: unknown) => error,
    )
    const retry = await post('e2e-key-4', body('tok_drop', 'e2e-order-4'))
    const charge = (await retry.json()) as LogLine

    expect(dropped).toBeInstanceOf(TypeError)
    expect(dropped).toMatchObject({ message: 'fetch failed', cause: { code: 'ECONNRESET' } })
    expect([retry.status, retry.headers.get('Idempotent-Replayed')]).toStrictEqual([201, 'true'])
    const listed = await fetch(`${base}/charges?orderId=e2e-order-4`, { headers: authorized })
    expect(await listed.json()).toStrictEqual({ charges: [charge] })
    // Bun says nothing of the body stream it was made to fail.
    expect(gateway.lines().filter((line) => !line.startsWith('{'))).toStrictEqual([])
  })

  it('tok_error_after_charge: the charge is written, the answer is 500, and a retry replays it', async () => {
    const failed = await post('e2e-key-5', body('tok_error_after_charge', 'e2e-order-5'))
    const retry = await post('e2e-key-5', body('tok_error_after_charge', 'e2e-order-5'))

    expect([failed.status, await failed.json()]).toStrictEqual([500, { error: 'internal_error' }])
    expect([retry.status, retry.headers.get('Idempotent-Replayed')]).toStrictEqual([201, 'true'])
    expect(await retry.json()).toMatchObject({ orderId: 'e2e-order-5', status: 'succeeded' })
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

describe('gateway stop deadline', () => {
  it('exits 1 at SHUTDOWN_TIMEOUT_MS when an upload stalls, not at the body deadline', async () => {
    await using gw = await spawnService({
      cmd: bun,
      args: gatewayArgs,
      cwd: root,
      env: { PORT: '0', HOST: '127.0.0.1', GATEWAY_SECRET_KEY: SECRET_KEY, SHUTDOWN_TIMEOUT_MS: '500' },
      readyLine: /"msg":"listening"/,
    })
    const listening = await waitForLog(gw, (log) => log.msg === 'listening')
    // A charge whose body never finishes arriving: headers and half the declared bytes.
    const socket = connectTcp(Number(listening.port), '127.0.0.1')
    socket.on('error', () => undefined)
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()))
    const payload = body('tok_ok', 'e2e-stall-1')
    socket.write(
      [
        'POST /charges HTTP/1.1',
        'Host: 127.0.0.1',
        'Content-Type: application/json',
        `Authorization: Bearer ${SECRET_KEY}`,
        'Idempotency-Key: e2e-stall-1',
        `Content-Length: ${payload.length}`,
        '',
        payload.slice(0, payload.length >> 1),
      ].join('\r\n'),
    )
    try {
      await new Promise((resolve) => setTimeout(resolve, 200))
      const started = Date.now()
      gw.signal('SIGTERM')
      const exit = await within(5_000, 'the gateway to exit', gw.exited)
      expect(exit).toStrictEqual({ code: 1, signal: null })
      expect(Date.now() - started).toBeLessThan(3_000)
      expect(gw.lines().map(parseLog)).toContainEqual(
        expect.objectContaining({ msg: 'graceful shutdown took too long; exiting', deadlineMs: 500 }),
      )
    } finally {
      socket.destroy()
    }
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

  it.each([
    [['--bogus'], 'gateway: unknown option --bogus (try --help)'],
    [['extra-arg'], 'gateway: unknown argument extra-arg (try --help)'],
    [['healthcheck', '--bogus'], 'gateway: healthcheck takes no argument, got --bogus (try --help)'],
  ])('refuses %j, as the other services do', async (args, line) => {
    expect(await run(args, { GATEWAY_SECRET_KEY: 'gw_sk_x' })).toStrictEqual({ code: 1, lines: [line] })
  })

  it('prints the package version for --version', async () => {
    expect(await run(['--version'])).toStrictEqual({ code: 0, lines: [pkg.version] })
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
      'GATEWAY_SLOW_RATE',
      'GATEWAY_DROP_RATE',
      'GATEWAY_ERROR_AFTER_CHARGE_RATE',
      'GATEWAY_LATENCY_MS',
      'GATEWAY_SLOW_MS',
      'GATEWAY_FLAKY_FAILURES',
      'GATEWAY_SECRET_KEY',
      'GATEWAY_MAX_BODY_BYTES',
      'SHUTDOWN_TIMEOUT_MS',
      'GATEWAY_LEDGER_FILE',
      'RATE_LIMIT_PER_SECOND',
      'RATE_LIMIT_BURST',
    ])
  })

  it('exits 1 listing every bad variable, without listening', async () => {
    expect(
      await run([], {
        PORT: 'http',
        GATEWAY_FLAKY_FAILURES: '-1',
        LOG_LEVEL: 'info',
        // The tracing settings in the same pass.
        OTEL_EXPORTER_OTLP_ENDPOINT: 'notaurl',
        OTEL_BSP_SCHEDULE_DELAY: '-5',
      }),
    ).toStrictEqual({
      code: 1,
      lines: [
        'gateway: invalid configuration:',
        '  - PORT: must be an integer',
        '  - GATEWAY_FLAKY_FAILURES: must be >= 0',
        '  - GATEWAY_SECRET_KEY: is required',
        '  - OTEL_EXPORTER_OTLP_ENDPOINT: must be an http(s) URL, got "notaurl"',
        '  - OTEL_BSP_SCHEDULE_DELAY: must be an integer from 1 to 60000 (ms), got "-5"',
      ],
    })
  })
})
