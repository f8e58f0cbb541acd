/**
 * How often does a fresh 3-node JetStream cluster form its meta group without
 * one node? nats-server 2.10.27 did now and then and never added the node
 * (the harness restarted it until 2.12 became the minimum; docs/nats-server.md).
 *
 *   bun bench/probes/cluster-meta-group.ts [--starts 25] [--size 3]
 *
 * Starts the cluster `--starts` times, one after another, all nodes at once,
 * with the test harness (test/harness/nats-cluster.ts) and the binary it uses
 * ($NATS_SERVER_BIN, else the resolver's choice: NATS_SERVER_BIN may name an
 * older server here), and prints each start's time to a usable cluster. A
 * start that fails (not usable within the harness's 20 s, the error names the
 * node left out) is counted and the next one begins.
 */
import { execFileSync } from 'node:child_process'
import { parseArgs } from 'node:util'
import { startNatsCluster } from '../../test/harness/nats-cluster.ts'
import { natsServerBin } from '../../test/harness/nats-server.ts'
import { createTestSecrets, TEST_SECRETS_ENV } from '../../test/harness/test-secrets.ts'

const { values } = parseArgs({
  options: { starts: { type: 'string', default: '25' }, size: { type: 'string', default: '3' } },
})
const starts = Number(values.starts)
const size = Number(values.size)
// The harness's servers require the saga's identities: fresh ones when not run under vitest.
const removeSecrets = process.env[TEST_SECRETS_ENV] ? undefined : await createTestSecrets()
const bin = await natsServerBin()
console.log(
  `${execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()} (${bin}), ${starts} starts of ${size} nodes`,
)

const times: number[] = []
let failed = 0
for (let i = 1; i <= starts; i++) {
  const started = performance.now()
  const cluster = await startNatsCluster({ size, bin, name: `probe-${process.pid}-${i}` }).catch(
    (error: unknown) => error as Error,
  )
  const ms = Math.round(performance.now() - started)
  if (cluster instanceof Error) {
    failed++
    console.log(`start ${i}: FAILED after ${ms} ms: ${cluster.message.split('\n')[0] ?? ''}`)
    continue
  }
  times.push(ms)
  console.log(`start ${i}: usable after ${ms} ms`)
  await cluster.dispose()
}
const sorted = [...times].sort((a, b) => a - b)
const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
console.log(
  `\n${failed} of ${starts} starts failed; the others were usable after median ${at(0.5)} ms, max ${at(1)} ms`,
)
await removeSecrets?.()
