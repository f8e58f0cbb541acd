/**
 * What would "a step is one durable write" buy? One saga step today writes
 * its state (a compare-and-set on a KV record) and then publishes its event:
 * two requests in sequence, to two streams. nats-server 2.12+ can store both
 * in one stream as an atomic batch (ADR-50) with a per-message consistency
 * check (`Nats-Expected-Last-Subject-Sequence`), so the state change and its
 * event commit together.
 *
 *   bun bench/probes/step-writes.ts [--steps 20000] [--inflight 32] [--rounds 3] [--replicas 1|3]
 *
 * Against one nats-server with the shipped settings (file storage,
 * sync_interval 1s, NKEY authentication), or with `--replicas 3` a 3-node
 * cluster (the test harness's, file storage, every stream R3, as compose
 * deploys), `--inflight` steps at a time, each variant in turn, round after
 * round (same process, same servers):
 *
 * - `event only`: the event's publish alone (the floor of any step);
 * - `state then event` (today): a KV create, then the event's publish;
 * - `batch, each message a request`: the two as one atomic batch, every
 *   message awaited (the way `shared/nats/publish-batch.ts` publishes);
 * - `batch, commit only`: the first message published without a reply
 *   subject, only the commit awaited (one round trip).
 *
 * Prints steps/s, the p50/p99 of a step, and CPU per step of this process and
 * of nats-server (all nodes, from /proc), with each variant's ratio to `state then event`
 * measured in the same run. Refusals are counted, not retried: a stream takes
 * 50 open batches at once (ADR-50), so `--inflight` above 50 shows that limit.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { headers, type NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { startNatsCluster } from '../../test/harness/nats-cluster.ts'
import { createTestSecrets, TEST_SECRETS_ENV } from '../../test/harness/test-secrets.ts'
import { DEFAULT_LIMITS, orderStreamConfig } from '../../shared/nats/topology.ts'
import { table } from '../lib/format.ts'
import { startBenchNats } from '../lib/nats.ts'
import { cpuMs } from '../lib/processes.ts'
import { createBenchSecurity } from '../lib/security.ts'
import { median, percentile } from '../lib/stats.ts'

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '20000' },
    inflight: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '3' },
    replicas: { type: 'string', default: '1' },
  },
})
const steps = Number(values.steps)
const inflight = Number(values.inflight)
const rounds = Number(values.rounds)
const replicas = Number(values.replicas)
for (const [name, n] of Object.entries({ steps, inflight, rounds }))
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`)
if (replicas !== 1 && replicas !== 3) throw new Error('--replicas must be 1 or 3')

const encoder = new TextEncoder()
/** About the size of an `inventory.reserved` and of a reservation record. */
const eventBody = encoder.encode(
  JSON.stringify({ version: 1, orderId: 'x'.repeat(36), pad: 'e'.repeat(300) }),
)
const stateBody = encoder.encode(
  JSON.stringify({ orderId: 'x'.repeat(36), state: 'reserved', pad: 's'.repeat(200) }),
)

interface Outcome {
  ok: boolean
}

type Step = (nc: NatsConnection, id: string) => Promise<Outcome>

function batchHeaders(batchId: string, sequence: number, commit: boolean) {
  const h = headers()
  h.set('Nats-Batch-Id', batchId)
  h.set('Nats-Batch-Sequence', String(sequence))
  if (commit) h.set('Nats-Batch-Commit', '1')
  return h
}

/** A pub ack (or a batch's empty ack) that carries no error. */
function accepted(data: Uint8Array): boolean {
  if (data.length === 0) return true
  return (JSON.parse(new TextDecoder().decode(data)) as { error?: unknown }).error === undefined
}

interface Servers {
  nc: NatsConnection
  jsm: JetStreamManager
  pids: () => number[]
  stop: () => Promise<void>
}

async function startServers(): Promise<Servers> {
  if (replicas === 1) {
    const dir = await mkdtemp(join(tmpdir(), 'bench-step-writes-'))
    const nats = await startBenchNats(dir, await createBenchSecurity())
    return {
      nc: nats.nc,
      jsm: nats.jsm,
      pids: () => [nats.pid],
      async stop() {
        await nats.stop()
        await rm(dir, { recursive: true, force: true })
      },
    }
  }
  // The harness's cluster signs its servers' users from the test secrets: make a set for this run.
  const removeSecrets = process.env[TEST_SECRETS_ENV] ? undefined : await createTestSecrets()
  const cluster = await startNatsCluster({ size: 3 })
  const nc = await connect({ ...cluster.connectOptions(), name: 'step-writes' })
  return {
    nc,
    jsm: await jetstreamManager(nc, { timeout: 10_000 }),
    pids: () => cluster.nodes.map((n) => n.pid),
    async stop() {
      await nc.close().catch(() => undefined)
      await cluster.dispose()
      await removeSecrets?.()
    },
  }
}

const servers = await startServers()
const serverCpuMs = () => servers.pids().reduce((sum, pid) => sum + cpuMs(pid), 0)
try {
  const nc = servers.nc
  const js = jetstream(nc)
  // Events: a stream configured like ORDERS (allow_atomic on, 2 min duplicate window).
  await servers.jsm.streams.add({
    ...orderStreamConfig(DEFAULT_LIMITS),
    name: 'STEPS',
    subjects: ['step.event.>', 'step.state.>'],
    description: 'bench: events and, for the batch variants, state records',
    num_replicas: replicas,
  })
  // State today: a KV bucket (a stream of its own), written with a create.
  const kv = await new Kvm(nc).create('step-state', { history: 1, replicas })

  const variants: { name: string; step: Step }[] = [
    {
      name: 'event only (floor)',
      async step(_nc, id) {
        const h = headers()
        h.set('Nats-Msg-Id', `e:${id}`)
        await js.publish(`step.event.reserved`, eventBody, { headers: h })
        return { ok: true }
      },
    },
    {
      name: 'state then event (today)',
      async step(_nc, id) {
        await kv.create(id, stateBody)
        const h = headers()
        h.set('Nats-Msg-Id', `e:${id}`)
        await js.publish(`step.event.reserved`, eventBody, { headers: h })
        return { ok: true }
      },
    },
    {
      name: 'batch, each message a request',
      async step(c, id) {
        const batchId = crypto.randomUUID()
        const first = batchHeaders(batchId, 1, false)
        first.set('Nats-Expected-Last-Subject-Sequence', '0')
        const started = await c.request(`step.state.${id}`, stateBody, { headers: first, timeout: 10_000 })
        if (!accepted(started.data)) return { ok: false }
        const commit = batchHeaders(batchId, 2, true)
        commit.set('Nats-Msg-Id', `b:${id}`)
        const ack = await c.request(`step.event.reserved`, eventBody, { headers: commit, timeout: 10_000 })
        return { ok: accepted(ack.data) }
      },
    },
    {
      name: 'batch, commit only',
      async step(c, id) {
        const batchId = crypto.randomUUID()
        const first = batchHeaders(batchId, 1, false)
        first.set('Nats-Expected-Last-Subject-Sequence', '0')
        c.publish(`step.state.${id}`, stateBody, { headers: first })
        const commit = batchHeaders(batchId, 2, true)
        commit.set('Nats-Msg-Id', `c:${id}`)
        const ack = await c.request(`step.event.reserved`, eventBody, { headers: commit, timeout: 10_000 })
        return { ok: accepted(ack.data) }
      },
    },
  ]

  interface Run {
    perSecond: number
    p50: number
    p99: number
    selfCpu: number
    serverCpu: number
    refused: number
  }
  const results = new Map<string, Run[]>(variants.map((v) => [v.name, []]))

  for (let round = 1; round <= rounds; round++) {
    for (const variant of variants) {
      const prefix = `r${round}-${variants.indexOf(variant)}-`
      const latencies: number[] = []
      let next = 0
      let refused = 0
      const cpu0 = process.cpuUsage()
      const server0 = serverCpuMs()
      const started = performance.now()
      await Promise.all(
        Array.from({ length: inflight }, async () => {
          while (next < steps) {
            const id = `${prefix}${next++}`
            const t0 = performance.now()
            const outcome = await variant.step(nc, id).catch(() => ({ ok: false }))
            latencies.push(performance.now() - t0)
            if (!outcome.ok) refused++
          }
        }),
      )
      const seconds = (performance.now() - started) / 1000
      const cpu = process.cpuUsage(cpu0)
      latencies.sort((a, b) => a - b)
      const run: Run = {
        perSecond: steps / seconds,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        selfCpu: (cpu.user + cpu.system) / 1000 / steps,
        serverCpu: (serverCpuMs() - server0) / steps,
        refused,
      }
      results.get(variant.name)?.push(run)
      console.log(
        `round ${round} ${variant.name}: ${run.perSecond.toFixed(0)}/s, p50 ${run.p50.toFixed(2)} ms, p99 ${run.p99.toFixed(2)} ms, ` +
          `probe ${run.selfCpu.toFixed(3)} + server ${run.serverCpu.toFixed(3)} CPU ms/step, refused ${refused}`,
      )
    }
  }

  const med = (name: string, pick: (r: Run) => number) => median((results.get(name) ?? []).map(pick))
  const today = 'state then event (today)'
  const rows = variants.map(({ name }) => {
    const cpu = med(name, (r) => r.selfCpu + r.serverCpu)
    return [
      name,
      med(name, (r) => r.perSecond).toFixed(0),
      (med(name, (r) => r.perSecond) / med(today, (r) => r.perSecond)).toFixed(2),
      `${med(name, (r) => r.p50).toFixed(2)} / ${med(name, (r) => r.p99).toFixed(2)}`,
      `${med(name, (r) => r.selfCpu).toFixed(3)} + ${med(name, (r) => r.serverCpu).toFixed(3)}`,
      (cpu / med(today, (r) => r.selfCpu + r.serverCpu)).toFixed(2),
      String((results.get(name) ?? []).reduce((sum, r) => sum + r.refused, 0)),
    ]
  })
  console.log(
    `\n${steps} steps per run, ${inflight} in flight, ${rounds} rounds, ${replicas === 1 ? 'one server' : '3-node cluster, R3'}; ` +
      `medians, ratios to "${today}" in the same run\n`,
  )
  console.log(
    table(
      [
        'variant',
        'steps/s',
        '÷ today',
        'p50 / p99 ms',
        'CPU ms/step: probe + server',
        'CPU ÷ today',
        'refused',
      ],
      rows,
    ),
  )
} finally {
  await servers.stop()
}
