// The DLQ stream holds, for every poison message, one dead letter per durable
// that consumes its subject (with a Dlq-Reason), and nothing else.
import type { JetStreamManager } from '@nats-io/jetstream'
import { DEAD_LETTER_HEADERS, STREAMS } from '../../schemas/subjects.ts'
import { waitFor, WaitForTimeoutError } from '../harness/wait-for.ts'
import type { PoisonMessage } from './poison.ts'
import { sample, type CheckResult } from './report.ts'
import { filtersOverlap } from '../../shared/nats/subjects.ts'
import { filtersOf } from '../../shared/nats/topology.ts'
import { NOT_IN_CHAOS_STACKS } from './stream-check.ts'

export interface DeadLetter {
  seq: number
  subject: string
  reason: string
  originalSeq: number
  originalSubject: string
  consumer: string
}

export async function readDeadLetters(jsm: JetStreamManager): Promise<DeadLetter[]> {
  const { state } = await jsm.streams.info(STREAMS.deadLetters.name)
  const letters: DeadLetter[] = []
  if (state.messages === 0) return letters
  for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
    const msg = await jsm.streams.getMessage(STREAMS.deadLetters.name, { seq }).catch(() => null)
    if (msg === null) continue
    const h = msg.header
    letters.push({
      seq,
      subject: msg.subject,
      reason: h.get(DEAD_LETTER_HEADERS.reason),
      originalSeq: Number(h.get(DEAD_LETTER_HEADERS.sequence)),
      originalSubject: h.get(DEAD_LETTER_HEADERS.subject),
      consumer: h.get(DEAD_LETTER_HEADERS.consumer),
    })
  }
  return letters
}

/** Durable consumer name -> its filter subjects, as the server has them (those a worker of the stack pulls from). */
export async function consumerFilters(jsm: JetStreamManager): Promise<Map<string, string[]>> {
  const filters = new Map<string, string[]>()
  for await (const info of jsm.consumers.list(STREAMS.orders.name)) {
    if (info.config.durable_name === undefined || NOT_IN_CHAOS_STACKS.has(info.name)) continue
    const subjects = filtersOf(info.config)
    filters.set(info.name, subjects.length > 0 ? subjects : ['>'])
  }
  return filters
}

export async function checkDeadLetters(
  jsm: JetStreamManager,
  poison: readonly PoisonMessage[],
  timeoutMs = 20_000,
): Promise<{ checks: CheckResult[]; letters: DeadLetter[] }> {
  const filters = await consumerFilters(jsm)
  const expected = new Map<string, PoisonMessage>()
  for (const p of poison) {
    for (const [consumer, subjects] of filters) {
      if (subjects.some((f) => filtersOverlap(f, p.subject))) expected.set(`${p.seq}/${consumer}`, p)
    }
  }
  let letters: DeadLetter[] = []
  try {
    letters = await waitFor(
      async () => {
        const all = await readDeadLetters(jsm)
        return all.length >= expected.size ? all : undefined
      },
      { timeoutMs, intervalMs: 250, message: `${expected.size} dead letters` },
    )
  } catch (error) {
    if (!(error instanceof WaitForTimeoutError)) throw error
    letters = await readDeadLetters(jsm)
  }
  const seen = new Map<string, number>()
  const unexpected: string[] = []
  const noReason: string[] = []
  const wrongReason: string[] = []
  for (const l of letters) {
    const key = `${l.originalSeq}/${l.consumer}`
    seen.set(key, (seen.get(key) ?? 0) + 1)
    const p = expected.get(key)
    if (p === undefined)
      unexpected.push(`${l.originalSubject}#${l.originalSeq} by ${l.consumer}: ${l.reason.slice(0, 60)}`)
    if (l.reason === '') noReason.push(key)
    else if (p !== undefined && !l.reason.startsWith(`${p.kind}:`))
      wrongReason.push(`${key}: ${l.reason.slice(0, 60)}`)
  }
  const missing = [...expected.keys()].filter((k) => !seen.has(k))
  const doubled = [...seen].filter(([, n]) => n > 1).map(([k]) => k)
  const checks: CheckResult[] = [
    {
      check: 'every poison message dead-lettered',
      ok: missing.length === 0,
      detail: `${poison.length} poison x their consumers = ${expected.size} expected, ${expected.size - missing.length} found${missing.length ? `; missing ${sample(missing)}` : ''}`,
    },
    {
      check: 'dead letters carry Dlq-Reason (the right one)',
      ok: noReason.length === 0 && wrongReason.length === 0,
      detail:
        noReason.length + wrongReason.length === 0
          ? `${letters.length} letters`
          : `${sample(noReason)} ${sample(wrongReason)}`,
    },
    {
      check: 'nothing else in DLQ, nothing twice',
      ok: unexpected.length === 0 && doubled.length === 0,
      detail:
        unexpected.length + doubled.length === 0
          ? `DLQ holds ${letters.length}`
          : `unexpected: ${sample(unexpected, 3)}; twice: ${sample(doubled)}`,
    },
  ]
  return { checks, letters }
}
