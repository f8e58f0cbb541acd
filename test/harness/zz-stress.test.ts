import { it } from 'vitest'
import { startNatsCluster } from './nats-cluster.ts'
it('cluster start x25', async () => {
  for (let i = 0; i < 25; i++) {
    const t0 = Date.now()
    await using c = await startNatsCluster()
    console.log(`iter ${i}: cluster ready ${Date.now() - t0} ms ${c.urls.length}`)
  }
}, 600_000)
