// The test harness tested against real nats-servers: if these fail, every
// integration test's failure is suspect.
import { existsSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterAll, describe, expect, it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { authAs } from './harness/test-secrets.ts'
import type { NatsConnection } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { NatsServerStartError, startNatsServer } from './harness/nats-server.ts'
import type { NatsServerHandle, NatsServerOptions } from './harness/nats-server.ts'
import { startNatsCluster, waitForStreamLeader } from './harness/nats-cluster.ts'
import type { NatsCluster } from './harness/nats-cluster.ts'
import { spawnService, stopAllServices } from './harness/process.ts'
import { freePorts, waitFor } from './harness/wait-for.ts'

const disposables: Array<{ dispose(): Promise<void> }> = []
afterAll(async () => {
  await stopAllServices()
  // Newest first: clients close before their servers stop.
  for (const d of disposables.reverse()) await d.dispose().catch((err: unknown) => console.error(err))
})

async function server(opts?: NatsServerOptions): Promise<NatsServerHandle> {
  const s = await startNatsServer(opts)
  disposables.push(s)
  return s
}

async function client(servers: string | string[]): Promise<NatsConnection> {
  const nc = await connect({ ...authAs('admin'), servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 })
  disposables.push({ dispose: () => nc.close() })
  return nc
}

/** Answers the WebSocket upgrade handshake with 101? */
function websocketUpgradeStatus(wsUrl: string): Promise<number | undefined> {
  return new Promise((done, fail) => {
    const req = request(wsUrl.replace(/^ws:/, 'http:'), {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        // RFC 6455: 16 bytes, base64 (nats-server 2.15.1 answers 400 to another length; 2.10 took it).
        'Sec-WebSocket-Key': Buffer.from('harness-selftest').toString('base64'),
      },
    })
    req.once('upgrade', (res, socket) => {
      socket.destroy()
      done(res.statusCode)
    })
    req.once('response', (res) => done(res.statusCode))
    req.once('error', fail)
    req.end()
  })
}

describe('startNatsServer', () => {
  it('uses the binary the global setup resolved', () => {
    expect(process.env['NATS_SERVER_BIN']).toMatch(/nats-server$/)
  })

  it('starts JetStream on a random port and a publish gets an ack', async () => {
    const s = await server()
    expect(s.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/)
    expect(s.url).toBe(`nats://127.0.0.1:${s.port}`)
    expect(s.port).not.toBe(4222)
    const nc = await client(s.url)
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: 'SELF_ACK', subjects: ['self.ack.>'] })
    const ack = await jetstream(nc).publish('self.ack.1', 'hello', { msgID: 'm-1' })
    expect(ack).toMatchObject({ stream: 'SELF_ACK', seq: 1, duplicate: false })
  })

  it('reports a WebSocket URL that accepts the upgrade, and none when disabled', async () => {
    const [withWs, withoutWs] = await Promise.all([server(), server({ websocket: false })])
    expect(withWs.wsUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/)
    expect(withWs.wsUrl).not.toBe(`ws://127.0.0.1:${withWs.port}`)
    expect(await websocketUpgradeStatus(withWs.wsUrl ?? '')).toBe(101)
    expect(withoutWs.wsUrl).toBeUndefined()
  })

  it('keeps file-stored messages and its ports across kill -9 and restart', async () => {
    const s = await server()
    const { port, wsUrl, pid } = s
    const nc = await client(s.url)
    // Short request timeout: a request sent just as the socket died would otherwise wait 5 s.
    const jsm = await jetstreamManager(nc, { timeout: 1_000 })
    await jsm.streams.add({ name: 'SELF_DURABLE', subjects: ['self.durable'], storage: 'file' })
    await jetstream(nc).publish('self.durable', 'survives', { msgID: 'd-1' })

    await s.kill()
    expect(s.running).toBe(false)
    await s.restart()
    expect(s.running).toBe(true)
    expect(s.pid).not.toBe(pid)
    expect(s.port).toBe(port)
    expect(s.wsUrl).toBe(wsUrl)
    expect(s.log()).toContain(`Listening for client connections on 127.0.0.1:${port}`)

    // The same client reconnects to the same port by itself.
    const stored = await waitFor(() => jsm.streams.getMessage('SELF_DURABLE', { seq: 1 }), {
      message: 'the stored message after restart',
    })
    expect(stored.string()).toBe('survives')
    const ack = await jetstream(nc).publish('self.durable', 'after', { msgID: 'd-2' })
    expect(ack.seq).toBe(2)
  })

  it('starts two servers at once on different ports', async () => {
    const [a, b] = await Promise.all([server(), server()])
    expect(new Set([a.port, b.port, a.wsUrl, b.wsUrl]).size).toBe(4)
    expect(a.storeDir).not.toBe(b.storeDir)
  })

  it('removes its temp dir on dispose and stops the process', async () => {
    await using s = await startNatsServer()
    expect(existsSync(s.storeDir)).toBe(true)
    await s.dispose()
    expect(s.running).toBe(false)
    expect(existsSync(s.dir)).toBe(false)
  })

  it('fails with the server log when the server cannot start', async () => {
    const failure = await startNatsServer({ config: 'this is { not valid' }).catch((err: unknown) => err)
    expect(failure).toBeInstanceOf(NatsServerStartError)
    expect((failure as NatsServerStartError).message).toMatch(/exited before it was ready/)
    expect((failure as NatsServerStartError).log).not.toBe('')
  })
})

interface Jsz {
  meta_cluster: { leader?: string; cluster_size?: number }
}

describe('startNatsCluster', () => {
  it('forms a meta group of 3, and after the stream leader is killed elects another and publishes go on', async () => {
    const cluster: NatsCluster = await startNatsCluster({ size: 3 })
    disposables.push(cluster)
    expect(new Set(cluster.urls).size).toBe(3)
    const metas = await Promise.all(
      cluster.nodes.map(
        async (n) => ((await (await fetch(`${n.monitorUrl}/jsz`)).json()) as Jsz).meta_cluster,
      ),
    )
    expect(new Set(metas.map((m) => m.leader)).size).toBe(1)
    expect(metas.map((m) => m.cluster_size)).toStrictEqual([3, 3, 3])
    const nc = await client(cluster.urls)
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: 'SELF_R3', subjects: ['self.r3'], num_replicas: 3 })
    const leader = await waitForStreamLeader(nc, 'SELF_R3')
    expect(cluster.nodes.map((n) => n.name)).toContain(leader)
    const js = jetstream(nc)
    // The leader's interest in the subject reaches the other nodes over the routes a moment after
    // the election: until then a publish through another node gets "no responders".
    const first = await waitFor(() => js.publish('self.r3', 'one', { msgID: 'r-1', timeout: 1_000 }), {
      timeoutMs: 10_000,
      message: 'the first publish to the new stream',
    })
    expect(first.seq).toBe(1)

    // RAFT election timeouts in nats-server are 4-9 s: a new leader takes that long after a kill -9.
    await cluster.nodeByName(leader).kill()
    expect(cluster.nodeByName(leader).running).toBe(false)
    const next = await waitForStreamLeader(nc, 'SELF_R3', 25_000, leader)
    expect(next).not.toBe(leader)
    // Retrying with the same msg id is safe: a publish that was stored but timed out is deduplicated.
    const ack = await waitFor(() => js.publish('self.r3', 'two', { msgID: 'r-2', timeout: 1_000 }), {
      timeoutMs: 10_000,
      message: 'a publish after failover',
    })
    expect(ack.seq).toBe(2)
  })

  it('starts again on fresh ports when a node finds its route port taken', async () => {
    // Other nodes dial the taken port as a route: hang up on them, or close() waits for them.
    const squatter = createServer((socket) => socket.destroy())
    await new Promise<void>((done) => squatter.listen(0, '127.0.0.1', done))
    disposables.push({ dispose: () => new Promise((done) => squatter.close(() => done())) })
    const taken = (squatter.address() as AddressInfo).port
    const handedOut: number[][] = []
    const cluster = await startNatsCluster({
      size: 3,
      routePorts: async (count) => {
        const ports = await freePorts(count)
        if (handedOut.length === 0) ports[0] = taken
        handedOut.push(ports)
        return ports
      },
    })
    disposables.push(cluster)
    expect(handedOut).toHaveLength(2)
    expect(handedOut[1]).not.toContain(taken)
    expect(cluster.nodes.every((n) => n.running)).toBe(true)
  })
})

/** Gone, or a zombie waiting for a reaper (not running either way). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

describe('spawnService', () => {
  it('waits for the ready line and kills the whole process group', async () => {
    const svc = await spawnService({
      cmd: 'bash',
      args: ['-c', 'sleep 300 & echo "child $!"; echo ready; wait'],
      readyLine: /^ready$/,
      readyTimeoutMs: 5_000,
    })
    const childPid = Number((await svc.waitForLine(/^child \d+$/)).split(' ')[1])
    expect(isRunning(childPid)).toBe(true)
    expect(await svc.kill()).toStrictEqual({ code: null, signal: 'SIGKILL' })
    await waitFor(() => !isRunning(childPid), { timeoutMs: 5_000, message: `child ${childPid} to die` })
  })

  it('fails with the output when the ready line never comes', async () => {
    const failure = spawnService({ cmd: 'bash', args: ['-c', 'echo booting; exit 3'], readyLine: /ready/ })
    await expect(failure).rejects.toThrow(/did not get ready: exited \(code 3[\s\S]*booting/)
  })
})
