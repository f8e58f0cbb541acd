// Where could a card token have leaked? Every message of every stream (KV
// buckets are streams too) and every log line, searched for the tokens sent.
import { jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream'
import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core'
import { isNatsUnavailable } from '../../shared/nats/errors.ts'

/**
 * `stream#seq` of every stored message (headers and data) that matches
 * `pattern`. Read again from the start while JetStream does not answer (a
 * stream leader elected after a fault), within `timeoutMs`.
 */
export async function findInStreams(
  nc: NatsConnection,
  pattern: RegExp,
  timeoutMs = 30_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await scanStreams(nc, pattern)
    } catch (error) {
      if (!isNatsUnavailable(error) || Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
}

async function scanStreams(nc: NatsConnection, pattern: RegExp): Promise<string[]> {
  const jsm = await jetstreamManager(nc, { timeout: 5_000 })
  const js = jetstream(nc, { timeout: 5_000 })
  const hits: string[] = []
  for await (const info of jsm.streams.list()) {
    const { name } = info.config
    const count = info.state.messages
    if (count === 0) continue
    const textOf = (headers: MsgHdrs | undefined, body: string) =>
      `${[...(headers ?? [])].map(([key, values]) => `${key}: ${values.join(',')}`).join('\n')}\n${body}`
    if (info.config.retention === RetentionPolicy.Workqueue) {
      // A work queue takes no ordered consumer: read what it holds by sequence.
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(name, { seq }).catch(() => null)
        if (m !== null && pattern.test(textOf(m.header, m.string()))) hits.push(`${name}#${seq}`)
      }
      continue
    }
    const consumer = await js.consumers.get(name) // ordered, from the first message
    let seen = 0
    while (seen < count) {
      const batch = await consumer.fetch({ max_messages: Math.min(1_000, count - seen), expires: 5_000 })
      let got = 0
      for await (const m of batch) {
        got++
        if (pattern.test(textOf(m.headers, m.string()))) hits.push(`${name}#${m.seq}`)
      }
      if (got === 0) break
      seen += got
    }
  }
  return hits
}

/** The card tokens the sandbox gateway knows (every test sends some of them). */
export const CARD_TOKEN = /\btok_(ok|declined|flaky|slow)\b/
