// createRecordWriter on a real KV bucket: a process's own concurrent updates
// of one key are grouped into few writes (no reads, no conflicts); writers in several
// processes still lose no update; a decision not to write is taken on a fresh read.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import { Kvm, type KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import * as v from 'valibot'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readJson } from '../shared/nats/kv-json.ts'
import { createLanePriority, runInLane } from '../shared/nats/lane-priority.ts'
import { createRecordWriter } from '../shared/nats/record-writer.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'

const Counter = v.object({ n: v.number() })
type Counter = v.InferOutput<typeof Counter>
const BUCKET = 'record-writer-test'

let server: NatsServerHandle
let nc: NatsConnection
let jsm: JetStreamManager
let kv: KV
let reads = 0

const increment = (current: Counter | null) => {
  const value = { n: (current?.n ?? 0) + 1 }
  return { value, result: value.n }
}
const writes = async (): Promise<number> => (await jsm.streams.info(`KV_${BUCKET}`)).state.last_seq
const readsSoFar = async (): Promise<number> => {
  await nc.flush()
  return reads
}

beforeAll(async () => {
  server = await startNatsServer()
  nc = await connect(server.connectOptions())
  jsm = await jetstreamManager(nc)
  kv = await new Kvm(nc).create(BUCKET, { history: 1, allow_direct: false })
  // Core NATS fans every API request out to this subscriber too.
  nc.subscribe('$JS.API.STREAM.MSG.GET.>', { callback: () => void reads++ })
})

afterAll(async () => {
  await nc?.close().catch(() => undefined)
  await server?.dispose()
})

describe('createRecordWriter', () => {
  it('holds an update of standard work while express work is in flight, never an express one', async () => {
    const lanes = createLanePriority({ maxHoldMs: 10_000 })
    const writer = createRecordWriter(kv, Counter)
    const expressDone = lanes.expressStarted()
    const standard = runInLane(lanes, 'standard', () =>
      writer.update('lane-standard', increment, { assumeAbsent: true }),
    )
    const express = runInLane(lanes, 'express', () =>
      writer.update('lane-express', increment, { assumeAbsent: true }),
    )
    expect(await express).toBe(1)
    await nc.flush()
    expect(await kv.get('lane-standard')).toBeNull()
    expressDone()
    expect(await standard).toBe(1)
    expect((await readJson(kv, 'lane-standard', Counter))?.value).toStrictEqual({ n: 1 })
  })

  it("applies one process's concurrent updates of a key in order, grouped into few writes, no reads", async () => {
    const writer = createRecordWriter(kv, Counter)
    const [writesBefore, readsBefore] = [await writes(), await readsSoFar()]
    const results = await Promise.all(
      Array.from({ length: 50 }, () => writer.update('solo', increment, { assumeAbsent: true })),
    )
    expect(results).toStrictEqual(Array.from({ length: 50 }, (_, i) => i + 1))
    // All 50 were made in one tick: one group, one write.
    expect(await writes()).toBe(writesBefore + 1)
    expect(await readsSoFar()).toBe(readsBefore)
    expect((await readJson(kv, 'solo', Counter))?.value).toStrictEqual({ n: 50 })
  })

  it('groups the updates that arrive while a write is in flight into the next write', async () => {
    const writer = createRecordWriter(kv, Counter)
    const writesBefore = await writes()
    const first = writer.update('queued', increment, { assumeAbsent: true })
    await new Promise((resolve) => setImmediate(resolve)) // the first write is on its way
    const later = Array.from({ length: 20 }, () => writer.update('queued', increment))
    expect(await Promise.all([first, ...later])).toStrictEqual(Array.from({ length: 21 }, (_, i) => i + 1))
    expect(await writes()).toBe(writesBefore + 2)
    expect((await readJson(kv, 'queued', Counter))?.value).toStrictEqual({ n: 21 })
  })

  it('fails only the update whose change throws; the others in its group are stored', async () => {
    const writer = createRecordWriter(kv, Counter)
    const outcomes = await Promise.allSettled([
      writer.update('mixed', increment, { assumeAbsent: true }),
      writer.update('mixed', () => {
        throw new Error('refused')
      }),
      writer.update('mixed', increment),
    ])
    expect(
      outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message)),
    ).toStrictEqual([1, 'refused', 2])
    expect((await readJson(kv, 'mixed', Counter))?.value).toStrictEqual({ n: 2 })
  })

  it('loses no update between writers of several processes', async () => {
    const writers = [1, 2, 3].map(() => createRecordWriter(kv, Counter))
    await Promise.all(writers.flatMap((w) => Array.from({ length: 30 }, () => w.update('shared', increment))))
    expect((await readJson(kv, 'shared', Counter))?.value).toStrictEqual({ n: 90 })
  })

  it('decides not to write only on what is stored, not on what it wrote last', async () => {
    const writer = createRecordWriter(kv, Counter)
    const addBelow3 = (current: Counter | null) =>
      (current?.n ?? 0) >= 3
        ? { result: 'full' as const }
        : { value: { n: (current?.n ?? 0) + 1 }, result: 'added' as const }
    await writer.update('capped', () => ({ value: { n: 3 }, result: 'set' })) // it remembers { n: 3 }
    await kv.put('capped', JSON.stringify({ n: 0 })) // another process empties it
    const readsBefore = await readsSoFar()
    // On its stale { n: 3 } it would answer "full" and write nothing; on what is stored it adds.
    expect(await writer.update('capped', addBelow3)).toBe('added')
    expect(await readsSoFar()).toBe(readsBefore + 1)
    expect((await readJson(kv, 'capped', Counter))?.value).toStrictEqual({ n: 1 })
  })
})
