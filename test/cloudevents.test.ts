// Every event on the ORDERS stream is a CloudEvent in the binary mode of the
// NATS binding: read back from a real nats-server with a reader written from
// the spec plus the cloudevents SDK (test/support/cloudevents-reader.ts).
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readJsonFiles, SCHEMA_DIRS } from '../scripts/lib/schema-dirs.ts'
import type { EventOf } from '../schemas/events.ts'
import {
  HEADERS,
  STREAMS,
  SUBJECTS,
  toDeadlineFiredSubject,
  toDeadlineScheduleSubject,
  type Subject,
} from '../schemas/subjects.ts'
import { publishEvent, toEvent } from '../shared/nats/publish.ts'
import { publishSchedule, SCHEDULE_HEADERS } from '../shared/nats/schedule.ts'
import { DEFAULT_LIMITS, ensureStreams } from '../shared/nats/topology.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'
import { waitFor } from './harness/wait-for.ts'
import { readStream, type StoredEvent } from './support/stream-reader.ts'
import { readNatsCloudEvent } from './support/cloudevents-reader.ts'

let server: NatsServerHandle
let nc: NatsConnection
let js: JetStreamClient

beforeAll(async () => {
  server = await startNatsServer()
  nc = await connect(server.connectOptions())
  await ensureStreams(await jetstreamManager(nc), DEFAULT_LIMITS)
  js = jetstream(nc)
})

afterAll(async () => {
  await nc?.close().catch(() => undefined)
  await server?.dispose()
})

/** The attributes as a CloudEvents reader sees them, or the rules the message broke. */
function attributesOf(m: StoredEvent) {
  const read = readNatsCloudEvent(m.headers, m.data)
  expect(read.problems, `${m.subject} #${m.seq}`).toStrictEqual([])
  const { id, source, type, time, subject, specversion, datacontenttype } = read.event ?? {}
  return { id, source, type, time, subject, specversion, datacontenttype }
}

describe('CloudEvents attributes on published events', () => {
  it('are on every example event published with publishEvent, and a retry is the same event', async () => {
    const examples = [...readJsonFiles(SCHEMA_DIRS.examples)]
    for (const [file, text] of examples) {
      const subject = file.replace(/\.v\d+\.json$/, '') as Subject
      const payload = { ...(JSON.parse(text) as EventOf<Subject>), orderId: randomUUID() }
      for (let attempt = 0; attempt < 2; attempt++) {
        await publishEvent(js, toEvent(subject, payload), {
          correlationId: `corr-${file}`,
          timeoutMs: 5_000,
          source: '/order-saga/test',
        })
      }
    }
    const stored = await readStream(nc, STREAMS.orders.name)
    expect(stored).toHaveLength(examples.length)
    for (const m of stored) {
      const payload = m.json as { orderId: string; occurredAt: string; version: number }
      expect(attributesOf(m)).toStrictEqual({
        specversion: '1.0',
        id: m.headers?.get(HEADERS.msgId),
        source: '/order-saga/test',
        type: `com.example.order-saga.${m.subject}.v${payload.version}`,
        time: new Date(payload.occurredAt).toISOString(),
        subject: payload.orderId,
        datacontenttype: 'application/json',
      })
      expect(m.headers?.get(HEADERS.correlationId)).toMatch(/^corr-/)
      expect(m.headers?.get(HEADERS.eventVersion)).toBe(String(payload.version))
    }
  })

  it('are copied by nats-server from a deadline schedule onto the message it fires, less the message id', async () => {
    const orderId = randomUUID()
    const deadlineAt = new Date(Date.now() + 1_000)
    const payload: EventOf<typeof SUBJECTS.orderCancelRequested> = {
      version: 1,
      orderId,
      occurredAt: deadlineAt.toISOString(),
      reason: 'deadline_exceeded',
    }
    await publishSchedule(
      js,
      {
        scheduleSubject: toDeadlineScheduleSubject(orderId),
        target: toDeadlineFiredSubject(SUBJECTS.orderCancelRequested),
        eventSubject: SUBJECTS.orderCancelRequested,
        at: deadlineAt,
        payload,
        version: 1,
        correlationId: 'corr-deadline',
        msgId: `deadline:${orderId}`,
        source: '/order-saga/inventory',
      },
      5_000,
    )
    // DEADLINES is a work queue (no consumer here to take it): read the fired message by subject.
    const jsm = await jetstreamManager(nc)
    const fired = await waitFor(
      async () => {
        const stored = await jsm.streams
          .getMessage(STREAMS.deadlines.name, {
            last_by_subj: toDeadlineFiredSubject(SUBJECTS.orderCancelRequested),
          })
          .catch(() => null)
        if (stored?.header.get('ce-subject') !== orderId) return undefined
        const event: StoredEvent = {
          seq: stored.seq,
          subject: stored.subject,
          headers: stored.header,
          data: stored.data,
          json: stored.json(),
        }
        return event
      },
      { timeoutMs: 10_000, message: 'the deadline to fire' },
    )
    expect(attributesOf(fired)).toStrictEqual({
      specversion: '1.0',
      id: `deadline:${orderId}`,
      source: '/order-saga/inventory',
      type: 'com.example.order-saga.orders.cancel_requested.v1',
      time: deadlineAt.toISOString(),
      subject: orderId,
      datacontenttype: 'application/json',
    })
    expect(fired.json).toStrictEqual(payload)
    expect(fired.headers?.get(HEADERS.correlationId)).toBe('corr-deadline')
    expect(fired.headers?.get(HEADERS.eventVersion)).toBe('1')
    expect(fired.headers?.has(HEADERS.msgId)).toBe(false)
    expect(fired.headers?.has(SCHEDULE_HEADERS.schedule)).toBe(false)
  })
})
