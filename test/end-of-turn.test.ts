import { jetstream, jetstreamManager, type PubAck } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sendAtEndOfTurn } from '../shared/nats/end-of-turn.ts'
import { startNatsServer, type NatsServerHandle } from './harness/nats-server.ts'

let server: NatsServerHandle
let nc: NatsConnection
/** Socket writes the client made (nats.js sends each flushed buffer as one). */
let writes = 0

beforeAll(async () => {
  server = await startNatsServer()
  nc = await connect({ ...server.connectOptions(), timeout: 5_000 })
  // Test-only look inside nats.js: count what its transport hands the socket.
  const transport = (nc as unknown as { protocol: { transport: { send(frame: Uint8Array): void } } }).protocol
    .transport
  const send = transport.send.bind(transport)
  transport.send = (frame) => {
    writes++
    send(frame)
  }
  await (await jetstreamManager(nc)).streams.add({ name: 'TURNS', subjects: ['turns.>'] })
}, 30_000)

afterAll(async () => {
  await nc?.close()
  await server?.dispose()
})

/** `count` publishes, each started from its own callback (as each HTTP request is); their acks and the writes. */
async function publishFromCallbacks(
  count: number,
  subject: string,
  viaEndOfTurn: boolean,
): Promise<{ acks: PubAck[]; writes: number }> {
  const js = jetstream(nc, { timeout: 5_000 })
  const before = writes
  const acks = await Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise<PubAck>((resolve, reject) =>
          setImmediate(() => {
            const send = () => js.publish(subject, `m${i}`, { msgID: `${subject}-${i}` })
            ;(viaEndOfTurn ? sendAtEndOfTurn(send) : send()).then(resolve, reject)
          }),
        ),
    ),
  )
  return { acks, writes: writes - before }
}

describe('sendAtEndOfTurn', () => {
  it('puts the publishes started in one turn in one socket write, each acked by JetStream', async () => {
    const direct = await publishFromCallbacks(20, 'turns.direct', false)
    const deferred = await publishFromCallbacks(20, 'turns.deferred', true)
    // Started from separate callbacks, each publish is a write of its own...
    expect(direct.writes).toBeGreaterThanOrEqual(20)
    // ...deferred to the end of the turn, they share one (two if a PING falls in between).
    expect(deferred.writes).toBeGreaterThanOrEqual(1)
    expect(deferred.writes).toBeLessThanOrEqual(2)
    expect(deferred.acks.map((a) => a.duplicate)).toStrictEqual(Array(20).fill(false))
    expect(new Set(deferred.acks.map((a) => a.seq)).size).toBe(20)
    const info = await (await jetstreamManager(nc)).streams.info('TURNS')
    expect(info.state.messages).toBe(40)
  })

  it('passes on the failure of a send, whether it throws or rejects', async () => {
    await expect(
      sendAtEndOfTurn(() => {
        throw new Error('at once')
      }),
    ).rejects.toThrow('at once')
    await expect(sendAtEndOfTurn(() => Promise.reject(new Error('later')))).rejects.toThrow('later')
    await expect(sendAtEndOfTurn(() => Promise.resolve(7))).resolves.toBe(7)
  })
})
