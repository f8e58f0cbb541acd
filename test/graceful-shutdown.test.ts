// SIGTERM: readiness off, HTTP closed, in-flight messages finished and acked,
// connection drained, exit 0 within the deadline. Nothing is half-handled.
import { spawn } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { STREAMS } from '../schemas/subjects.ts'
import { waitFor } from './harness/wait-for.ts'
import { BUN, startSagaStack, type SagaStack } from './support/saga-stack.ts'
import { workerSecrets } from './harness/test-secrets.ts'
import { itKeepsTheMoneyInvariant } from './support/money.ts'

let stack: SagaStack

beforeAll(async () => {
  // Each charge takes 1.5 s at the gateway, so a payment is in flight when SIGTERM comes.
  stack = await startSagaStack({
    gatewayEnv: { GATEWAY_LATENCY_MS: '1500' },
    paymentEnv: { PAYMENT_TIMEOUT_MS: '5000' },
  })
}, 90_000)

afterAll(async () => {
  await stack?.dispose()
})

describe('graceful shutdown', () => {
  it('finishes an in-flight payment, acks it and exits 0 on SIGTERM', async () => {
    await stack.setStock('STOP-1', 5, 100)
    const nc = await connect(stack.server.connectOptions())
    try {
      const jsm = await jetstreamManager(nc)
      const placed = await stack.placeOrder({
        customerId: 'c',
        items: [{ sku: 'STOP-1', quantity: 1 }],
        paymentToken: 'tok_ok',
      })
      await waitFor(
        async () => (await jsm.consumers.info(STREAMS.orders.name, 'payment')).num_ack_pending === 1,
        {
          message: 'payment in flight',
        },
      )

      const signalled = Date.now()
      stack.payment.handle.signal('SIGTERM')
      // Readiness is off while the in-flight charge finishes.
      const ready = await waitFor(
        async () => {
          const status = await fetch(`${stack.payment.url}/ready`).then(
            (r) => r.status,
            () => 0,
          )
          return status === 503 ? status : undefined
        },
        { timeoutMs: 1_000, intervalMs: 20, message: '/ready answers 503 after SIGTERM' },
      )
      expect(ready).toBe(503)
      const exit = await stack.payment.handle.exited
      expect(exit).toStrictEqual({ code: 0, signal: null })
      expect(Date.now() - signalled).toBeLessThan(10_000)

      const after = await jsm.consumers.info(STREAMS.orders.name, 'payment')
      expect(after.num_ack_pending).toBe(0)
      expect(after.num_redelivered).toBe(0)
      expect(after.num_pending).toBe(0)
      expect((await stack.waitForFinal(placed.orderId)).status).toBe('confirmed')
      expect(await stack.charges(placed.orderId)).toHaveLength(1)
      const lines = stack.payment.handle.lines().join('\n')
      expect(lines).toContain('"msg":"shutting down"')
      expect(lines).toContain('"msg":"stopped"')
    } finally {
      await nc.close()
    }
  })

  itKeepsTheMoneyInvariant(() => stack)

  it('exits 1 with one line when its port is taken, before it connects or takes a message', async () => {
    const running = stack.inventories[0]
    if (running === undefined) throw new Error('no inventory')
    const port = new URL(running.url).port
    const spawned = Date.now()
    const second = spawn(BUN, ['workers/inventory/main.ts'], {
      cwd: join(import.meta.dirname, '..'),
      env: {
        ...process.env,
        ...(await workerSecrets('inventory')),
        ...running.env,
        PORT: port,
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    second.stdout.on('data', (d: Buffer) => (out += d.toString()))
    second.stderr.on('data', (d: Buffer) => (err += d.toString()))
    const exit = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        second.kill('SIGKILL')
        reject(new Error(`still running after 30 s: ${out}${err}`))
      }, 30_000)
      second.once('exit', (code) => {
        clearTimeout(timer)
        resolve(code)
      })
    })
    expect(exit).toBe(1)
    expect(err.trim().split('\n')).toStrictEqual([
      expect.stringMatching(
        new RegExp(`^inventory: cannot listen on 127\\.0\\.0\\.1:${port} \\(HOST, PORT\\): `),
      ),
    ])
    // The port comes first: it never connected nor started a consumer, so it took no message.
    expect(out).not.toContain('"msg":"consumer started"')
    expect(out).not.toContain('"msg":"nats connected"')
    expect(Date.now() - spawned).toBeLessThan(5_000)
  })

  it('answers alive, not ready, its index and metrics, and 503 elsewhere while it connects', async () => {
    const free = async () => {
      const probe = createServer()
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
      const { port } = probe.address() as AddressInfo
      await new Promise((resolve) => probe.close(resolve))
      return port
    }
    const [port, nowhere] = [await free(), await free()]
    const starting = spawn(BUN, ['workers/inventory/main.ts'], {
      cwd: join(import.meta.dirname, '..'),
      env: {
        ...process.env,
        ...(await workerSecrets('inventory')),
        NATS_URL: `nats://127.0.0.1:${nowhere}`,
        NATS_CONNECT_TIMEOUT_MS: '20000',
        PORT: String(port),
        HOST: '127.0.0.1',
      },
      stdio: 'ignore',
    })
    try {
      const base = `http://127.0.0.1:${port}`
      const health = await waitFor(
        () =>
          fetch(`${base}/health`).then(
            (r) => r,
            () => undefined,
          ),
        {
          timeoutMs: 10_000,
          message: 'the port open while NATS is unreachable',
        },
      )
      expect([health.status, await health.json()]).toStrictEqual([200, { status: 'ok' }])
      const ready = await fetch(`${base}/ready`)
      expect([ready.status, await ready.json()]).toStrictEqual([
        503,
        { status: 'not_ready', reason: 'starting' },
      ])
      const route = await fetch(`${base}/inventory/MUG-002`, {
        headers: { 'X-Correlation-ID': 'starting-1' },
      })
      expect(route.status).toBe(503)
      expect(route.headers.get('Retry-After')).toBe('1')
      expect(route.headers.get('X-Correlation-ID')).toBe('starting-1')
      expect([
        route.headers.get('X-Content-Type-Options'),
        route.headers.get('X-Frame-Options'),
      ]).toStrictEqual(['nosniff', 'DENY'])
      expect(ready.headers.get('X-Correlation-ID')).toMatch(/^[0-9a-f-]{36}$/)
      expect(await route.json()).toStrictEqual({ error: 'unavailable', message: 'the service is starting' })
      // Its index and its metrics answer: a scrape during start-up is not a failed one.
      const index = await fetch(`${base}/`)
      expect([index.status, await index.json()]).toStrictEqual([
        200,
        { service: 'inventory', version: expect.any(String), status: 'starting' },
      ])
      const metrics = await fetch(`${base}/metrics`)
      expect(metrics.status).toBe(200)
      expect(await metrics.text()).toContain('process_cpu_user_seconds_total')
    } finally {
      starting.kill('SIGKILL')
    }
  })

  it.each(['order', 'inventory'] as const)(
    'stops the %s worker cleanly within the deadline',
    async (name) => {
      const worker = name === 'order' ? stack.order : stack.inventories[0]
      if (worker === undefined) throw new Error('no worker')
      const signalled = Date.now()
      worker.handle.signal('SIGTERM')
      expect(await worker.handle.exited).toStrictEqual({ code: 0, signal: null })
      expect(Date.now() - signalled).toBeLessThan(10_000)
    },
  )
})

describe('a payment worker with a key that does not import', () => {
  it('exits 1 naming the key before it tries NATS', async () => {
    const started = Date.now()
    const child = spawn(BUN, ['workers/payment/main.ts'], {
      cwd: join(import.meta.dirname, '..'),
      env: {
        ...process.env,
        ...(await workerSecrets('payment')),
        // A P-256 private JWK whose point is not on the curve: valid JSON, refused by the import.
        PAYMENT_TOKEN_PRIVATE_KEYS: JSON.stringify({
          kty: 'EC',
          crv: 'P-256',
          x: 'AAAA',
          y: 'AAAA',
          d: 'AAAA',
        }),
        // Nothing answers there: before the fix the worker waited for NATS first.
        NATS_URL: 'nats://127.0.0.1:9',
        NATS_CONNECT_TIMEOUT_MS: '60000',
        PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        resolve(null)
      }, 15_000)
      child.on('exit', (exitCode) => {
        clearTimeout(timer)
        resolve(exitCode)
      })
    })
    expect(code).toBe(1)
    expect(output).toMatch(/PAYMENT_TOKEN_PRIVATE_KEYS: key 1 cannot be imported/)
    expect(output).not.toMatch(/nats connect failed/)
    expect(Date.now() - started).toBeLessThan(15_000)
  })
})
