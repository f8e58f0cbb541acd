// Reads every message a stream holds right now, in order, with an ordered consumer.
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core'

export interface StoredEvent {
  seq: number
  subject: string
  headers: MsgHdrs | undefined
  data: Uint8Array
  /** The payload as JSON, or null when it is not JSON. */
  json: unknown
}

export async function readStream(
  nc: NatsConnection,
  stream: string,
  timeoutMs = 10_000,
): Promise<StoredEvent[]> {
  const { state } = await (await jetstreamManager(nc)).streams.info(stream)
  const out: StoredEvent[] = []
  if (state.messages === 0) return out
  const consumer = await jetstream(nc).consumers.get(stream)
  const deadline = Date.now() + timeoutMs
  while (out.length < state.messages && Date.now() < deadline) {
    const batch = await consumer.fetch({ max_messages: state.messages - out.length, expires: 2_000 })
    for await (const m of batch) {
      let json: unknown = null
      try {
        json = m.json()
      } catch {
        // not JSON: left null for the caller to judge
      }
      out.push({ seq: m.seq, subject: m.subject, headers: m.headers, data: m.data, json })
      if (m.seq >= state.last_seq) return out
    }
  }
  return out
}
