import { it } from 'vitest'
import { connect } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { startNatsCluster, waitForStreamLeader } from './nats-cluster.ts'
it('cluster start + R3 add x12', async () => {
  for (let i = 0; i < 12; i++) {
    const t0 = Date.now()
    await using c = await startNatsCluster()
    const t1 = Date.now()
    const nc = await connect({ servers: c.urls })
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({ name: 'R', subjects: ['r'], num_replicas: 3 })
    const l = await waitForStreamLeader(nc, 'R')
    await jetstream(nc).publish('r', 'x', { msgID: '1' })
    const t2 = Date.now()
    await nc.close()
    console.log(`iter ${i}: cluster ready ${t1 - t0} ms, stream+leader+pub ${t2 - t1} ms, leader ${l}`)
  }
}, 300_000)
