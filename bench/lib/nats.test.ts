// How the bench waits for a section's consumers, on a real server.
import { AckPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNatsServer, type NatsServerHandle } from '../../test/harness/nats-server.ts'
import { waitConsumersIdle } from './nats.ts'

let server: NatsServerHandle
let nc: NatsConnection
let jsm: JetStreamManager

beforeAll(async () => {
  server = await startNatsServer()
  nc = await connect({ ...server.connectOptions(), timeout: 5_000 })
  jsm = await jetstreamManager(nc, { timeout: 5_000 })
})

afterAll(async () => {
  await nc?.close()
  await server?.dispose()
})

describe('waitConsumersIdle', () => {
  it('names the consumers still busy when it times out', async () => {
    await jsm.streams.add({ name: 'IDLE_TEST', subjects: ['idle.test.>'] })
    await jsm.consumers.add('IDLE_TEST', { durable_name: 'busy', ack_policy: AckPolicy.Explicit })
    await jsm.consumers.add('IDLE_TEST', {
      durable_name: 'other',
      ack_policy: AckPolicy.Explicit,
      filter_subject: 'idle.test.none',
    })
    await jsm.jetstream().publish('idle.test.one', 'x')

    await expect(waitConsumersIdle(jsm, 'IDLE_TEST', 300)).rejects.toThrow(
      /still busy: busy \(1 pending, 0 unacknowledged\)$/,
    )
    await expect(waitConsumersIdle(jsm, 'IDLE_TEST', 300, ['other'])).resolves.toBeUndefined()
  })
})
