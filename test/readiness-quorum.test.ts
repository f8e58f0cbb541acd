// Readiness against a real 3-node cluster: a replicated stream whose
// cluster lost its majority has no leader and takes no write, though the
// surviving node still answers its `info`; /ready must say not ready. Also
// on a single server (no cluster), a stream is ready as it is.
import { jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, describe, expect, it } from 'vitest'
import { createNatsReadiness } from '../shared/nats/readiness.ts'
import { startNatsCluster, waitForStreamLeader, type NatsCluster } from './harness/nats-cluster.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'
import { waitFor } from './harness/wait-for.ts'

const disposables: (NatsCluster | NatsServerHandle | NatsConnection)[] = []
afterAll(async () => {
  for (const d of disposables.reverse()) {
    if ('close' in d && typeof d.close === 'function' && !('dispose' in d)) await d.close()
    else if ('dispose' in d) await d.dispose()
  }
})

const readinessOf = async (nc: NatsConnection, stream: string) =>
  createNatsReadiness({
    nats: { nc, isConnected: () => !nc.isClosed() },
    jsm: await jetstreamManager(nc),
    streams: [stream],
    cacheMs: 0,
    timeoutMs: 2_000,
  })

describe('readiness', () => {
  it('is ready on a single server', async () => {
    const server = await startNatsServer({ websocket: false })
    disposables.push(server)
    const nc = await connect(server.connectOptions())
    disposables.push(nc)
    await (await jetstreamManager(nc)).streams.add({ name: 'RQ_ONE', subjects: ['rq.one'] })
    expect(await (await readinessOf(nc, 'RQ_ONE')).check()).toStrictEqual({ ok: true })
  })

  it('is not ready while a replicated stream has no leader (two of three nodes down)', async () => {
    const cluster = await startNatsCluster({ size: 3 })
    disposables.push(cluster)
    const [kept, ...others] = cluster.nodes
    // Connected to the node that stays up, and to it only.
    const nc = await connect({
      ...cluster.connectOptions(),
      servers: [kept!.url],
      ignoreClusterUpdates: true,
      timeout: 5_000,
      maxReconnectAttempts: -1,
    })
    disposables.push(nc)
    await (await jetstreamManager(nc)).streams.add({ name: 'RQ', subjects: ['rq.x'], num_replicas: 3 })
    await waitForStreamLeader(nc, 'RQ')
    const readiness = await readinessOf(nc, 'RQ')
    expect(await readiness.check()).toStrictEqual({ ok: true })
    for (const node of others) await node.kill()
    // For ~10 s the surviving node does not answer at all (not ready: streams unavailable);
    // then it answers `info` with no leader, which alone says the stream takes no write.
    const down = await waitFor(
      async () => {
        const r = await readiness.check()
        return !r.ok && r.reason?.startsWith('no stream leader') === true ? r : undefined
      },
      { timeoutMs: 40_000, intervalMs: 250, message: 'readiness says the stream has no leader' },
    )
    expect(down).toStrictEqual({ ok: false, reason: 'no stream leader: RQ' })
    // And stays so: never ready again while the majority is gone.
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250))
      expect((await readiness.check()).ok).toBe(false)
    }
  })
})
