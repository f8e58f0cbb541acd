/**
 * Does a consumer priority group (ADR-42, nats-server 2.11/2.12) let an
 * urgent message overtake a backlog in the same consumer? ADR-42's policies
 * (`overflow`, `pinned_client`, `prioritized`) choose which pull request, so
 * which client, is served next; this probe checks what that means for the
 * order of messages, against the design the saga uses (a subject and a
 * consumer per lane).
 *
 *   bun bench/probes/priority-groups.ts [--backlog 2000] [--rounds 3]
 *
 * Each round publishes `--backlog` messages on `lanes.standard` and then one
 * on `lanes.express`, and drains them:
 *  - prioritized: one consumer on `lanes.>` with `priority_policy:
 *    prioritized`; an "express" client pulls at priority 0 and a "standard"
 *    client at priority 1, both at once;
 *  - lanes: one consumer per subject, one client each, both at once.
 * It prints how many backlog messages were delivered before the express one,
 * and after how long.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { AckPolicy, jetstream, type Consumer, type JetStreamClient } from '@nats-io/jetstream'
import { DEFAULT_LIMITS, durableConsumerConfig } from '../../shared/nats/topology.ts'
import { addStreamLikeOrders, startBenchNats } from '../lib/nats.ts'
import { createBenchSecurity } from '../lib/security.ts'

const { values } = parseArgs({
  options: { backlog: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '3' } },
})
const backlog = Number(values.backlog)
const rounds = Number(values.rounds)
const STREAM = 'PROBE_LANES'
const GROUP = 'orders'

interface Outcome {
  /** Backlog messages delivered (to any client) before the express one. */
  before: number
  /** Which client received the express message. */
  client: string
  ms: number
}

/** Pulls from `consumer` (batches of 16, at `priority` if given) until `finished`. */
async function puller(
  client: string,
  consumer: Consumer,
  priority: number | undefined,
  onMessage: (client: string, subject: string) => void,
  finished: () => boolean,
): Promise<void> {
  while (!finished()) {
    const batch = await consumer.fetch({
      max_messages: 16,
      expires: 1_000,
      ...(priority === undefined ? {} : { group: GROUP, priority }),
    })
    for await (const m of batch) {
      m.ack()
      onMessage(client, m.subject)
    }
  }
}

async function fill(js: JetStreamClient): Promise<void> {
  const payload = new TextEncoder().encode(JSON.stringify({ pad: 'x'.repeat(300) }))
  for (let i = 0; i < backlog; i += 500) {
    const acks: Promise<unknown>[] = []
    for (let j = i; j < Math.min(backlog, i + 500); j++) acks.push(js.publish('lanes.standard', payload))
    await Promise.all(acks)
  }
  await js.publish('lanes.express', payload)
}

/** Drains one round's messages with `clients` and reports where the express one came. */
async function drain(clients: { name: string; consumer: Consumer; priority?: number }[]): Promise<Outcome> {
  const started = performance.now()
  let delivered = 0
  let outcome: Outcome | undefined
  const finished = (): boolean => outcome !== undefined && delivered >= backlog
  const onMessage = (client: string, subject: string): void => {
    if (subject === 'lanes.express' && outcome === undefined)
      outcome = { before: delivered, client, ms: performance.now() - started }
    else delivered++
  }
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('drain took over 120 s')), 120_000)
  })
  try {
    await Promise.race([
      Promise.all(clients.map((c) => puller(c.name, c.consumer, c.priority, onMessage, finished))),
      deadline,
    ])
  } finally {
    clearTimeout(timer)
  }
  if (outcome === undefined) throw new Error('the express message was never delivered')
  return outcome
}

const dir = await mkdtemp(join(tmpdir(), 'bench-priority-groups-'))
const nats = await startBenchNats(dir, await createBenchSecurity())
const results: Record<string, Outcome[]> = { prioritized: [], lanes: [] }
try {
  console.log(`nats-server ${nats.nc.info?.version ?? '?'}, backlog ${backlog}, ${rounds} rounds`)
  const js = jetstream(nats.nc)
  for (let round = 1; round <= rounds; round++) {
    await nats.jsm.streams.delete(STREAM).catch(() => undefined)
    await addStreamLikeOrders(nats.jsm, STREAM, ['lanes.>'])
    await nats.jsm.consumers.add(STREAM, {
      ...durableConsumerConfig('prioritized', ['lanes.>'], DEFAULT_LIMITS),
      ack_policy: AckPolicy.Explicit,
      priority_groups: [GROUP],
      priority_policy: 'prioritized',
    })
    await nats.jsm.consumers.add(
      STREAM,
      durableConsumerConfig('standard', ['lanes.standard'], DEFAULT_LIMITS),
    )
    await nats.jsm.consumers.add(STREAM, durableConsumerConfig('express', ['lanes.express'], DEFAULT_LIMITS))
    await fill(js)
    const shared = await js.consumers.get(STREAM, 'prioritized')
    const p = await drain([
      { name: 'express client (priority 0)', consumer: shared, priority: 0 },
      { name: 'standard client (priority 1)', consumer: shared, priority: 1 },
    ])
    results['prioritized']?.push(p)
    const l = await drain([
      { name: 'express client (its own consumer)', consumer: await js.consumers.get(STREAM, 'express') },
      { name: 'standard client (its own consumer)', consumer: await js.consumers.get(STREAM, 'standard') },
    ])
    results['lanes']?.push(l)
    console.log(
      `round ${round}: prioritized: ${p.before} backlog messages first, ${p.ms.toFixed(1)} ms, to the ${p.client}; ` +
        `lanes: ${l.before} first, ${l.ms.toFixed(1)} ms, to the ${l.client}`,
    )
  }
  console.log(
    `\n| design | backlog messages delivered before the express one (per round) | ms until it was delivered |`,
  )
  console.log('| --- | --- | --- |')
  for (const [name, outcomes] of Object.entries(results))
    console.log(
      `| ${name} | ${outcomes.map((o) => o.before).join(', ')} of ${backlog} | ${outcomes.map((o) => o.ms.toFixed(1)).join(', ')} |`,
    )
} finally {
  await nats.stop()
  await rm(dir, { recursive: true, force: true })
}
