// compose.yaml for real: images built from scripts/container/Containerfile on local
// stand-in base images, secrets from `npm run compose:secrets`, brought up by Docker
// Compose v2 on podman, the order flow through the published ports with the keys,
// NATS refusing anonymous and plain-text clients, and one NATS node killed while
// orders keep completing.
// Needs scripts/container/install-tools.sh: fails without it in CI, skips locally.
import { jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { connect as connectTcp } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { STREAMS } from '../schemas/subjects.ts'
import { waitFor } from './harness/wait-for.ts'
import { createSagaClient, type SagaClient } from './support/container-client.ts'
import { findContainerTools } from './support/container-tools.ts'
import {
  LANE_COPIES,
  startComposeStack,
  SERVICES,
  type ComposeStack,
  type ContainerService,
  type ServiceName,
} from './support/container-stack.ts'

const tools = findContainerTools()
const missing = 'missing' in tools ? tools.missing : undefined
const TAG = 'e2e'

describe.runIf(missing !== undefined && process.env['CI'] === 'true')('compose stack (CI)', () => {
  it('has the container tools it needs', () => {
    throw new Error(`the compose test cannot run: ${missing}`)
  })
})

describe.skipIf(missing !== undefined)('compose stack', () => {
  let stack: ComposeStack
  let saga: SagaClient
  const order = (sku: string, quantity: number, paymentToken = 'tok_ok') => ({
    customerId: 'cust-compose',
    items: [{ sku, quantity }],
    paymentToken,
  })

  // A failed test leaves the services' logs behind (path in the output).
  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail' && stack !== undefined)
      console.log(await stack.diagnostics(['order', 'inventory', 'payment'], 20))
  })

  beforeAll(async () => {
    if ('missing' in tools) return
    stack = await startComposeStack(tools, { project: 'order-saga-e2e', tag: TAG })
    saga = createSagaClient(stack.urls, stack.keys)
  }, 600_000)

  afterAll(async () => {
    await stack?.down()
    if (stack) console.log(`[compose] timings (ms): ${JSON.stringify(stack.timings)}`)
  }, 180_000)

  it('runs every service from one multi-call image whose binary layer the NATS image shares', async () => {
    const inspect = async (ref: string, format: string): Promise<string> =>
      (await stack.podman(['inspect', '--format', format, ref])).stdout.trim()
    const app = `localhost/order-saga:${TAG}`
    const nats = `localhost/order-saga-nats:${TAG}`
    const appImageId = await inspect(app, '{{.Id}}')
    const images = await Promise.all(
      ['gateway', 'order', 'order-status', 'inventory', 'payment'].map((s) =>
        inspect(stack.containerName(s as ServiceName), '{{.Image}}'),
      ),
    )
    expect(new Set(images)).toStrictEqual(new Set([appImageId]))
    const appLayers = JSON.parse(await inspect(app, '{{json .RootFS.Layers}}')) as string[]
    const natsLayers = JSON.parse(await inspect(nats, '{{json .RootFS.Layers}}')) as string[]
    expect(appLayers).toHaveLength(3) // the base, the binary, an empty /data for a volume
    expect(natsLayers.slice(0, 2)).toStrictEqual(appLayers.slice(0, 2))
    expect(await inspect(app, '{{.Config.User}}')).toBe('65532:65532')
    expect(await inspect(app, '{{json .HealthCheck.Test}}')).toBe('["CMD","/app/service","healthcheck"]')
    const sizes = await Promise.all([app, nats].map((ref) => inspect(ref, '{{.Size}}')))
    console.log(`[compose] image sizes: ${app} ${sizes[0]} B, ${nats} ${sizes[1]} B (shares ${app}'s layers)`)
  })

  it('refuses NATS clients without an identity or without TLS on the published ports', async () => {
    const anonymous = connect({
      servers: stack.natsUrls.slice(0, 1),
      tls: { caFile: stack.caFile },
      timeout: 5_000,
      maxReconnectAttempts: 0,
    })
    await expect(anonymous).rejects.toThrow(/Authorization Violation/)
    const plain = await plainTextConnect(stack.natsPorts[0] ?? 0)
    expect(plain.info).toMatchObject({ tls_required: true })
    expect(plain.afterConnect).not.toMatch(/PONG|\+OK/)
    // The admin identity over TLS is let in and sees the provisioned streams.
    const nc = await connect({ ...stack.admin, servers: stack.natsUrls.slice(0, 1), timeout: 5_000 })
    try {
      expect(nc.info?.tls_required).toBe(true)
      const jsm = await jetstreamManager(nc)
      expect((await jsm.streams.info(STREAMS.orders.name)).config.num_replicas).toBe(3)
    } finally {
      await nc.close()
    }
  })

  it('refuses HTTP calls without the key their route wants', async () => {
    const call = async (url: string, init: RequestInit = {}): Promise<number> =>
      (await fetch(url, { ...init, signal: AbortSignal.timeout(5_000) })).status
    const json = { 'Content-Type': 'application/json' }
    expect(await call(`${stack.urls.order}/orders`, { method: 'POST', headers: json, body: '{}' })).toBe(401)
    expect(await call(`${stack.urls.gateway}/charges`)).toBe(401)
    const put = { method: 'PUT', body: JSON.stringify({ onHand: 1, priceCents: 1 }) }
    expect(await call(`${stack.urls.inventory}/inventory/COMPOSE-KEY`, { ...put, headers: json })).toBe(401)
    const asClient = { ...json, Authorization: `Bearer ${stack.keys.apiKey}` }
    expect(await call(`${stack.urls.inventory}/inventory/COMPOSE-KEY`, { ...put, headers: asClient })).toBe(
      403,
    )
  })

  it('confirms an order through the published intake port: stock sold, one charge', async () => {
    await saga.setStock('COMPOSE-OK', 10, 1250)
    const { orderId } = await saga.placeOrder(order('COMPOSE-OK', 2))
    const final = await saga.waitForFinal(orderId)
    expect(final.history.map((h) => h.status)).toStrictEqual(['pending', 'reserved', 'confirmed'])
    const stock = await waitFor(
      async () => {
        const s = await saga.getStock('COMPOSE-OK')
        return s.reserved === 0 ? s : undefined
      },
      { message: 'the sale recorded' },
    )
    expect(stock).toStrictEqual({ sku: 'COMPOSE-OK', onHand: 8, reserved: 0, available: 8, priceCents: 1250 })
    expect((await saga.charges(orderId)).map((c) => [c.amountCents, c.status])).toStrictEqual([
      [2500, 'succeeded'],
    ])
  })

  it("keeps the gateway's charges across a restart of its container (its ledger on a volume)", async () => {
    await saga.setStock('COMPOSE-LEDGER', 5, 900)
    const { orderId } = await saga.placeOrder(order('COMPOSE-LEDGER', 1))
    expect((await saga.waitForFinal(orderId)).status).toBe('confirmed')
    const before = await saga.charges(orderId)
    expect(before.map((c) => c.amountCents)).toStrictEqual([900])
    await stack.podman(['restart', '--time', '15', stack.containerName('gateway')])
    const after = await waitFor(() => saga.charges(orderId).catch(() => undefined), {
      timeoutMs: 60_000,
      message: 'the gateway answering again',
    })
    expect(after).toStrictEqual(before)
  }, 120_000)

  it('cancels an order out_of_stock without touching stock or charging', async () => {
    await saga.setStock('COMPOSE-SHORT', 1, 500)
    const { orderId } = await saga.placeOrder(order('COMPOSE-SHORT', 3))
    expect(await saga.waitForFinal(orderId)).toMatchObject({ status: 'cancelled', reason: 'out_of_stock' })
    expect(await saga.getStock('COMPOSE-SHORT')).toStrictEqual({
      sku: 'COMPOSE-SHORT',
      onHand: 1,
      reserved: 0,
      available: 1,
      priceCents: 500,
    })
    expect(await saga.charges(orderId)).toStrictEqual([])
  })

  it('cancels a declined payment and releases the reservation', async () => {
    await saga.setStock('COMPOSE-DECLINE', 4, 700)
    const { orderId } = await saga.placeOrder(order('COMPOSE-DECLINE', 2, 'tok_declined'))
    expect(await saga.waitForFinal(orderId)).toMatchObject({
      status: 'cancelled',
      reason: 'payment_declined',
    })
    const stock = await waitFor(
      async () => {
        const s = await saga.getStock('COMPOSE-DECLINE')
        return s.reserved === 0 ? s : undefined
      },
      { message: 'reservation released' },
    )
    expect(stock).toStrictEqual({
      sku: 'COMPOSE-DECLINE',
      onHand: 4,
      reserved: 0,
      available: 4,
      priceCents: 700,
    })
    expect(await saga.charges(orderId)).toStrictEqual([])
  })

  it('completes orders with the ORDERS stream leader container killed, and the node catches up again', async () => {
    let nc: NatsConnection | undefined
    try {
      nc = await connect({ ...stack.admin, servers: stack.natsUrls, timeout: 5_000 })
      const jsm = await jetstreamManager(nc)
      const leader = (await jsm.streams.info(STREAMS.orders.name)).cluster?.leader ?? ''
      expect(SERVICES).toContain(leader)
      const victim = leader as ServiceName
      await saga.setStock('COMPOSE-HA', 5, 300)
      await stack.podman(['kill', '--signal', 'KILL', stack.containerName(victim)])
      const placed = await Promise.all([
        saga.placeOrder(order('COMPOSE-HA', 1)),
        saga.placeOrder(order('COMPOSE-HA', 2)),
      ])
      const finals = await Promise.all(placed.map((p) => saga.waitForFinal(p.orderId, 60_000)))
      expect(finals.map((f) => f.status)).toStrictEqual(['confirmed', 'confirmed'])
      expect(
        await Promise.all(placed.map(async (p) => (await saga.charges(p.orderId)).length)),
      ).toStrictEqual([1, 1])
      const newLeader = await waitFor(
        async () => {
          const l = (await jsm.streams.info(STREAMS.orders.name)).cluster?.leader
          return l !== undefined && l !== victim ? l : undefined
        },
        { message: 'a new ORDERS leader' },
      )
      console.log(
        `[compose] killed ${victim} (ORDERS leader); ${newLeader} leads now; the orders took ${placed.map((p) => p.attempts).join(' and ')} attempts (503 until then)`,
      )

      // Podman, like Docker, does not restart a container killed by hand: start it again; it catches up.
      const state = (
        await stack.podman(['inspect', '--format', '{{.State.Status}}', stack.containerName(victim)])
      ).stdout.trim()
      if (state !== 'running') await stack.podman(['start', stack.containerName(victim)])
      const replicas = await waitFor(
        async () => {
          const cluster = (await jsm.streams.info(STREAMS.orders.name)).cluster
          const peers = cluster?.replicas ?? []
          return peers.length === 2 && peers.every((p) => p.current)
            ? [cluster?.leader, ...peers.map((p) => p.name)]
            : undefined
        },
        { timeoutMs: 120_000, intervalMs: 500, message: 'ORDERS with three current replicas again' },
      )
      expect([...replicas].sort()).toStrictEqual(['nats-1', 'nats-2', 'nats-3'])
    } catch (error) {
      throw new Error(
        `${String(error)}\n${await stack.diagnostics(['order', 'nats-1', 'nats-2', 'nats-3'], 60)}`,
        { cause: error },
      )
    } finally {
      await nc?.close().catch(() => undefined)
    }
  }, 240_000)

  // Last: it recreates inventory, payment and order-status twice.
  it('runs each lane in containers of its own with compose.lanes.yaml, the standard ones at the lowest CPU weight', async () => {
    const lanes = { overlays: ['compose.lanes.yaml'], timeoutMs: 180_000 }
    await stack.compose(['up', '--detach'], lanes)
    await stack.waitHealthy([...SERVICES, ...LANE_COPIES])

    const cpuShares = async (name: ContainerService): Promise<string> =>
      (
        await stack.podman(['inspect', '--format', '{{.HostConfig.CpuShares}}', stack.containerName(name)])
      ).stdout.trim()
    for (const copy of LANE_COPIES) expect(await cpuShares(copy)).toBe('2')
    for (const name of ['inventory', 'payment', 'order-status'] as const)
      expect(await cpuShares(name)).not.toBe('2')

    await saga.setStock('COMPOSE-LANES', 10, 400)
    const standard = await saga.placeOrder(order('COMPOSE-LANES', 1))
    const express = await saga.placeOrder(
      { ...order('COMPOSE-LANES', 2), priority: 'express' },
      30_000,
      stack.keys.adminApiKey,
    )
    const finals = await Promise.all([
      saga.waitForFinal(standard.orderId, 60_000),
      saga.waitForFinal(express.orderId, 60_000, stack.keys.adminApiKey),
    ])
    expect(finals.map((f) => [f.status, f.priority])).toStrictEqual([
      ['confirmed', 'standard'],
      ['confirmed', 'express'],
    ])

    // Who did what, from the containers' JSON log lines: each worker's own
    // lane consumer runs only in its lane's container, and the orders that
    // inventory and payment log (order-status logs none at info) are there only.
    const linesOf = async (name: ContainerService): Promise<Record<string, unknown>[]> => {
      const logs = await stack.compose(['logs', '--no-color', '--no-log-prefix', name], {
        ...lanes,
        timeoutMs: 30_000,
      })
      const lines = `${logs.stdout}\n${logs.stderr}`.split('\n').flatMap((line) => {
        const json = line.slice(Math.max(line.indexOf('{"level"'), 0))
        return json.startsWith('{') ? [JSON.parse(json) as Record<string, unknown>] : []
      })
      if (lines.length === 0) throw new Error(`no log line of ${name}:\n${logs.stdout}\n${logs.stderr}`)
      return lines
    }
    const seen = async (name: ContainerService) => {
      const lines = await linesOf(name)
      const worker = name.replace(/-standard$/, '')
      return {
        consumers: lines
          .filter((l) => l['msg'] === 'consumer started')
          .map((l) => String(l['consumer']))
          .filter((c) => c === worker || c === `${worker}-express`),
        orders: [standard.orderId, express.orderId].filter((id) => lines.some((l) => l['orderId'] === id)),
      }
    }
    for (const worker of ['inventory', 'payment', 'order-status'] as const) {
      const logsOrders = worker !== 'order-status'
      expect(await seen(worker), worker).toStrictEqual({
        consumers: [`${worker}-express`],
        orders: logsOrders ? [express.orderId] : [],
      })
      expect(await seen(`${worker}-standard`), `${worker}-standard`).toStrictEqual({
        consumers: [worker],
        orders: logsOrders ? [standard.orderId] : [],
      })
    }
    expect((await saga.charges(express.orderId)).map((c) => c.amountCents)).toStrictEqual([800])
    expect((await saga.charges(standard.orderId)).map((c) => c.amountCents)).toStrictEqual([400])

    // And back, as docs/containers.md says: `up --remove-orphans` without the file.
    await stack.compose(['up', '--detach', '--remove-orphans'], { timeoutMs: 180_000 })
    const after = await stack.waitHealthy()
    expect(LANE_COPIES.filter((copy) => after.has(stack.containerName(copy)))).toStrictEqual([])
    expect((await seen('inventory')).consumers.sort()).toStrictEqual(['inventory', 'inventory-express'])
  }, 300_000)
})

/**
 * A client that speaks NATS in plain text to a TLS-only port: the server's
 * INFO, then what arrives after CONNECT and PING until the server closes the
 * connection (5 s deadline).
 */
function plainTextConnect(port: number): Promise<{ info: unknown; afterConnect: string }> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1')
    let received = ''
    let infoEnd = -1
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`the server kept a plain-text client for 5 s; it sent: ${received}`))
    }, 5_000)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      received += chunk
      if (infoEnd === -1 && received.includes('\r\n')) {
        infoEnd = received.indexOf('\r\n') + 2
        socket.write('CONNECT {"verbose":true,"pedantic":false}\r\nPING\r\n')
      }
    })
    socket.on('error', () => undefined)
    socket.on('close', () => {
      clearTimeout(timer)
      const line = received.slice(0, Math.max(infoEnd, 0))
      const info: unknown = line.startsWith('INFO ') ? JSON.parse(line.slice(5)) : undefined
      resolve({ info, afterConnect: infoEnd === -1 ? '' : received.slice(infoEnd) })
    })
  })
}
