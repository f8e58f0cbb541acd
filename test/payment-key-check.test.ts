// The payment worker checks its GATEWAY_SECRET_KEY with the processor before
// it takes any order: a key the processor refuses stops it at start, in one
// line naming the setting, instead of every charge failing until each order
// is dead-lettered.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { spawnService } from './harness/process.ts'
import { workerSecrets } from './harness/test-secrets.ts'

const ROOT = join(import.meta.dirname, '..')
let server: Server | undefined

afterEach(async () => {
  const running = server
  server = undefined
  running?.closeAllConnections()
  if (running !== undefined) await new Promise((resolve) => running.close(resolve))
})

/** A processor that answers every request with `status`; the paths it was asked. */
async function processor(status: number): Promise<{ url: string; paths: string[] }> {
  const paths: string[] = []
  server = createServer((req, res) => {
    paths.push(req.url ?? '')
    res.writeHead(status, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify({ error: status === 401 ? 'unauthorized' : 'not_found' }))
  })
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths }
}

/** Starts the payment worker against `gatewayUrl` and a NATS URL nobody listens on; its failure. */
async function startPayment(gatewayUrl: string): Promise<string> {
  const env = await workerSecrets('payment')
  const failure = await spawnService({
    cmd: join(ROOT, 'node_modules', '.bin', 'bun'),
    args: ['run', 'workers/payment/main.ts'],
    cwd: ROOT,
    env: {
      ...env,
      PAYMENT_GATEWAY_URL: gatewayUrl,
      // Port 9 (discard): nothing answers, so reaching NATS fails fast and says so.
      NATS_URL: 'nats://127.0.0.1:9',
      NATS_CONNECT_TIMEOUT_MS: '1000',
      PORT: '0',
      LOG_LEVEL: 'warn',
    },
    readyLine: /listening/,
    readyTimeoutMs: 30_000,
  }).then(
    async (handle) => {
      await handle.stop()
      return 'started'
    },
    (err: unknown) => String(err),
  )
  expect(failure, 'no secret in what the worker printed').not.toContain(env['GATEWAY_SECRET_KEY'] ?? '\0')
  return failure
}

describe('payment worker: the gateway secret key at start', () => {
  it('exits 1 naming GATEWAY_SECRET_KEY when the processor refuses it, before reaching NATS', async () => {
    const gw = await processor(401)
    const failure = await startPayment(gw.url)
    expect(failure).toMatch(/exited \(code 1/)
    expect(failure).toContain(
      'payment: invalid configuration:\n  - GATEWAY_SECRET_KEY: the payment gateway (PAYMENT_GATEWAY_URL) refuses this key (401 or 403)',
    )
    expect(failure).not.toMatch(/nats/i)
    expect(gw.paths).toStrictEqual(['/charge-attempts/health-probe'])
  }, 45_000)

  it('goes on to NATS when the processor takes the key, or is not up yet', async () => {
    const gw = await processor(404)
    const accepted = await startPayment(gw.url)
    expect(gw.paths).toStrictEqual(['/charge-attempts/health-probe'])
    // Past the key check: what stops it now is the NATS URL nobody listens on.
    expect(accepted).toMatch(/exited \(code 1/)
    expect(accepted).toMatch(/nats/i)
    expect(accepted).not.toContain('GATEWAY_SECRET_KEY')

    const down = await startPayment('http://127.0.0.1:9')
    expect(down).toContain('payment gateway not reachable at start')
    expect(down).toMatch(/nats/i)
  }, 60_000)
})
