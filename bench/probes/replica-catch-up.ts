/**
 * After a kill -9 of an R3 stream's leader and the node's restart, how long
 * until every replica is current again? nats-server 2.10.27 sometimes left the
 * restarted replica behind with no catch-up for over 30 s (the chaos leader
 * kill restarts such a replica: test/chaos/faults.ts, docs/nats-server.md).
 *
 *   bun bench/probes/replica-catch-up.ts [--kills 20] [--down 2000] [--rate 100]
 *
 * One 3-node cluster (the test harness, the binary it uses: $NATS_SERVER_BIN
 * may name an older server here), one R3 file stream taking `--rate` publishes
 * a second throughout; `--kills` times: kill -9 the stream leader, restart the
 * node `--down` ms later, and time the new leader and the replicas' catch-up.
 * A replica still behind 30 s after its node came back counts as left behind;
 * it is restarted (as the chaos run does) so the next kill starts clean.
 */
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { startNatsCluster, waitForStreamLeader } from '../../test/harness/nats-cluster.ts'
import { natsServerBin } from '../../test/harness/nats-server.ts'
import { createTestSecrets, TEST_SECRETS_ENV } from '../../test/harness/test-secrets.ts'
import { waitFor } from '../../test/harness/wait-for.ts'

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '20' },
    down: { type: 'string', default: '2000' },
    rate: { type: 'string', default: '100' },
  },
})
const kills = Number(values.kills)
const downMs = Number(values.down)
const rate = Number(values.rate)
const STREAM = 'CATCHUP'
const LEFT_BEHIND_MS = 30_000

const removeSecrets = process.env[TEST_SECRETS_ENV] ? undefined : await createTestSecrets()
const bin = await natsServerBin()
console.log(
  `${execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()}: ${kills} leader kills, node down ${downMs} ms, ${rate} msg/s`,
)
const cluster = await startNatsCluster({ size: 3, bin })
const nc = await connect({ ...cluster.connectOptions(), maxReconnectAttempts: -1, reconnectTimeWait: 100 })
let publishing = true
try {
  const jsm = await jetstreamManager(nc, { timeout: 2_000 })
  await jsm.streams.add({ name: STREAM, subjects: ['catchup.>'], num_replicas: 3, storage: 'file' })
  await waitForStreamLeader(nc, STREAM, 15_000)
  const js = jetstream(nc, { timeout: 2_000 })
  const payload = new Uint8Array(300)
  let sent = 0
  const publisher = (async () => {
    for (let i = 0; publishing; i++) {
      const tick = Date.now()
      // A publish during an election fails or times out; the load goes on.
      void js
        .publish(`catchup.${i % 10}`, payload, { msgID: `m-${i}` })
        .then(() => sent++)
        .catch(() => undefined)
      await new Promise((done) => setTimeout(done, Math.max(0, 1_000 / rate - (Date.now() - tick))))
    }
  })()

  const rows: { election: number; catchUp: number; leftBehind: string }[] = []
  for (let k = 1; k <= kills; k++) {
    const leader = await waitForStreamLeader(nc, STREAM, 30_000)
    const node = cluster.nodeByName(leader)
    await node.kill()
    const killedAt = Date.now()
    await waitForStreamLeader(nc, STREAM, 30_000, leader)
    const election = Date.now() - killedAt
    await new Promise((done) => setTimeout(done, Math.max(0, downMs - (Date.now() - killedAt))))
    await node.restart()
    const backAt = Date.now()
    let behind = await replicasBehind(jsm, LEFT_BEHIND_MS)
    let leftBehind = ''
    if (behind.length > 0) {
      leftBehind = behind.join(' ')
      for (const name of behind) await cluster.nodeByName(name).restart()
      behind = await replicasBehind(jsm, LEFT_BEHIND_MS)
      if (behind.length > 0) throw new Error(`replicas ${behind.join(' ')} still behind after a restart`)
    }
    const catchUp = Date.now() - backAt
    rows.push({ election, catchUp, leftBehind })
    console.log(
      `kill ${k} (${leader}): new leader after ${election} ms; replicas current ${catchUp} ms after the node came back` +
        (leftBehind === '' ? '' : `; LEFT BEHIND: ${leftBehind} (restarted)`),
    )
  }
  const stats = (xs: number[]): string => {
    const s = [...xs].sort((a, b) => a - b)
    return `median ${s[Math.floor(s.length / 2)] ?? 0} ms, max ${s[s.length - 1] ?? 0} ms`
  }
  const left = rows.filter((r) => r.leftBehind !== '').length
  console.log(
    `\n${left} of ${kills} kills left a replica behind > ${LEFT_BEHIND_MS / 1000} s; ` +
      `election ${stats(rows.map((r) => r.election))}; catch-up ${stats(rows.filter((r) => r.leftBehind === '').map((r) => r.catchUp))}; ${sent} publishes acked`,
  )
  publishing = false
  await publisher
} finally {
  publishing = false
  await nc.close()
  await cluster.dispose()
  await removeSecrets?.()
}

/** Waits up to `timeoutMs` for every replica of the stream to be current; returns the ones still behind. */
async function replicasBehind(jsm: JetStreamManager, timeoutMs: number): Promise<string[]> {
  let behind: string[] = ['?']
  await waitFor(
    async () => {
      const replicas = (await jsm.streams.info(STREAM)).cluster?.replicas ?? []
      behind =
        replicas.length === 2
          ? replicas.filter((r) => !r.current || r.offline === true).map((r) => r.name)
          : ['?']
      return behind.length === 0
    },
    { timeoutMs, intervalMs: 250, message: 'every replica current' },
  ).catch(() => undefined)
  return behind
}
