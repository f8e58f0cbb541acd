/**
 * What do nats-server delayed messages (ADR-51: `Nats-Schedule: @at <RFC3339>`)
 * really do? Facts for designing order deadlines, checked on the real binary.
 *
 *   bun bench/probes/msg-schedules.ts [--no-cluster]
 *
 * Starts one JetStream server (test harness, no NKEYs: two plain users, one
 * allowed to publish only `deadline.>`), prints Q1-Q8 (stream flag and
 * upgrade path, accepted time formats, target rules and produced headers,
 * holder delivery and removal, replacement and dedupe, firing delay, kill -9
 * before the due time, cancelling, permissions), then repeats the firing
 * delay on a 3-node R3 cluster and kills the stream leader before the due
 * time. Delays are "stored time (or consumer arrival) minus the @at time".
 */
import { parseArgs } from 'node:util'
import { DiscardPolicy, jetstream, jetstreamManager, JetStreamApiError } from '@nats-io/jetstream'
import type { JetStreamClient, JetStreamManager, JetStreamPublishOptions } from '@nats-io/jetstream'
import { headers } from '@nats-io/nats-core'
import type { MsgHdrs, NatsConnection } from '@nats-io/nats-core'
import { connect } from '@nats-io/transport-node'
import { startNatsCluster, waitForStreamLeader } from '../../test/harness/nats-cluster.ts'
import { natsServerBin, startNatsServer } from '../../test/harness/nats-server.ts'
import { createTestSecrets, TEST_SECRETS_ENV } from '../../test/harness/test-secrets.ts'
import { waitFor } from '../../test/harness/wait-for.ts'

const { values } = parseArgs({ options: { 'no-cluster': { type: 'boolean', default: false } } })

interface Seen {
  subject: string
  seq: number
  headers: Record<string, string>
  data: string
  at: number
}
interface Watcher {
  seen: Seen[]
  stop(): Promise<void>
}
type Outcome = { seq: number; duplicate: boolean } | { error: string }
type Hdrs = Record<string, string>

const log = (label: string, value: unknown): void =>
  console.log(`${label}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
const iso = (ms: number): string => new Date(ms).toISOString()
const isoSeconds = (ms: number): string => iso(ms).replace(/\.\d{3}Z$/, 'Z')
const wholeSecond = (ms: number): number => Math.ceil(ms / 1000) * 1000
const at = (when: string, target: string, extra: Hdrs = {}): Hdrs => ({
  'Nats-Schedule': `@at ${when}`,
  'Nats-Schedule-Target': target,
  ...extra,
})
const pause = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms))
const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b)
  return `n=${s.length} min ${s[0]} median ${s[Math.floor(s.length / 2)]} max ${s[s.length - 1]} ms: ${xs.join(', ')}`
}

function errText(err: unknown): string {
  if (err instanceof JetStreamApiError) return `rejected err_code ${err.apiError().err_code}: ${err.message}`
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

function toRecord(h: MsgHdrs | undefined): Hdrs {
  const out: Hdrs = {}
  for (const k of h?.keys() ?? []) out[k] = h?.values(k).join(',') ?? ''
  return out
}

async function pub(
  js: JetStreamClient,
  subject: string,
  data: string,
  hdrs: Hdrs,
  opts: Partial<JetStreamPublishOptions> = {},
): Promise<Outcome> {
  const h = headers()
  for (const [k, v] of Object.entries(hdrs)) h.set(k, v)
  try {
    const ack = await js.publish(subject, data, { headers: h, timeout: 3_000, ...opts })
    return { seq: ack.seq, duplicate: ack.duplicate }
  } catch (err) {
    return { error: errText(err) }
  }
}

/** An ordered consumer with no filter: every message of the stream, with its arrival time. */
async function watch(js: JetStreamClient, stream: string): Promise<Watcher> {
  const messages = await (await js.consumers.get(stream)).consume()
  const seen: Seen[] = []
  const done = (async () => {
    for await (const m of messages) {
      const entry = { subject: m.subject, seq: m.seq, data: m.string(), at: Date.now() }
      seen.push({ ...entry, headers: toRecord(m.headers) })
    }
  })()
  return { seen, stop: async () => void (await messages.close(), await done) }
}

const arrived = (w: Watcher, subject: string, timeoutMs: number): Promise<Seen> =>
  waitFor(() => w.seen.find((s) => s.subject === subject), { timeoutMs, intervalMs: 5, message: subject })
const count = (w: Watcher, subject: string): number => w.seen.filter((s) => s.subject === subject).length
const stored = async (jsm: JetStreamManager, stream: string, subject: string): Promise<string> => {
  const m = await jsm.streams.getMessage(stream, { last_by_subj: subject }).catch(() => null)
  return m === null ? 'none' : `seq ${m.seq}`
}

async function q1Config(js: JetStreamClient, jsm: JetStreamManager): Promise<void> {
  const pick = (c: Record<string, unknown>): Hdrs =>
    Object.fromEntries(
      ['allow_msg_schedules', 'allow_rollup_hdrs', 'deny_purge', 'allow_msg_ttl', 'discard'].map((k) => [
        k,
        String(c[k]),
      ]),
    )
  await jsm.streams.add({ name: 'PLAIN', subjects: ['plain.>'] })
  await pub(js, 'plain.existing', 'old', {})
  log(
    'Q1 schedule on a stream without the flag',
    await pub(js, 'plain.d1', 'x', at(iso(Date.now()), 'plain.t1')),
  )
  const upgraded = await jsm.streams
    .update('PLAIN', { allow_msg_schedules: true })
    .then((i) => pick(i.config), errText)
  log('Q1 update of the existing stream to allow_msg_schedules:true', upgraded)
  const due = Date.now() + 1_000
  log('Q1 schedule after the update', await pub(js, 'plain.d1', 'x', at(iso(due), 'plain.t1')))
  const fired = await waitFor(() => jsm.streams.getMessage('PLAIN', { last_by_subj: 'plain.t1' }), {
    timeoutMs: 5_000,
  }).then((m) => `fired, stored ${m.time.getTime() - due} ms after @at`, errText)
  log('Q1 ... fired on the upgraded stream', fired)
  log('Q1 old message still there', await stored(jsm, 'PLAIN', 'plain.existing'))
  const off = await jsm.streams.update('PLAIN', { allow_msg_schedules: false }).then(pick, errText)
  log('Q1 update back to allow_msg_schedules:false', off)
  const dnew = await jsm.streams
    .add({ name: 'DNEW', subjects: ['dnew.>'], allow_msg_schedules: true, discard: DiscardPolicy.New })
    .then((i) => pick(i.config), errText)
  log('Q1 create with discard:new', dnew)
  const deny = await jsm.streams
    .add({
      name: 'DENY',
      subjects: ['deny.>'],
      allow_msg_schedules: true,
      deny_purge: true,
      allow_rollup_hdrs: false,
    })
    .then((i) => pick(i.config), errText)
  log('Q1 create with deny_purge:true allow_rollup_hdrs:false (stored config)', deny)
  const ttl = at(iso(Date.now() + 60_000), 'plain.t2', { 'Nats-Schedule-TTL': '5m' })
  log('Q1 Nats-Schedule-TTL without allow_msg_ttl', await pub(js, 'plain.d2', 'x', ttl))
}

async function q2Formats(js: JetStreamClient, w: Watcher): Promise<void> {
  const base = wholeSecond(Date.now() + 2_000)
  const plus2h = iso(base + 7_200_000).replace(/\.\d{3}Z$/, '+02:00')
  const variants: [string, string, number][] = [
    ['seconds Z', isoSeconds(base), base],
    ['milliseconds Z (Date.toISOString)', iso(base + 1_234), base + 1_234],
    ['nanoseconds Z', iso(base + 567).replace('Z', '891234Z'), base + 567],
    ['offset +02:00', plus2h, base],
    ['no zone', isoSeconds(base).replace('Z', ''), base],
    ['date only', iso(base).slice(0, 10), base],
    ['space instead of T', isoSeconds(base).replace('T', ' '), base],
    ['garbage "tomorrow"', 'tomorrow', base],
    ['60 s in the past', isoSeconds(Date.now() - 60_000), Date.now()],
    ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z', Date.now()],
  ]
  const accepted: [string, number, string][] = []
  for (const [i, [name, when, due]] of variants.entries()) {
    const target = `orders.q2-${i}.expired`
    const outcome = await pub(js, `deadline.q2-${i}`, name, at(when, target))
    log(`Q2 @at ${name} "${when}"`, outcome)
    if ('seq' in outcome) accepted.push([name, due, target])
  }
  const tz = at(isoSeconds(base), 'orders.q2-tz.expired', { 'Nats-Schedule-Time-Zone': 'Europe/Berlin' })
  log('Q2 @at with Nats-Schedule-Time-Zone', await pub(js, 'deadline.q2-tz', 'x', tz))
  for (const [name, due, target] of accepted) {
    const fired = await arrived(w, target, 8_000).then(
      (s) => `${s.at - due} ms after @at (or publish)`,
      errText,
    )
    log(`Q2 ... ${name} arrived`, fired)
  }
}

async function q3q4Target(
  js: JetStreamClient,
  jsm: JetStreamManager,
  nc: NatsConnection,
  w: Watcher,
): Promise<void> {
  const due = iso(Date.now() + 60_000)
  for (const [name, target] of [
    ['target no stream covers', 'elsewhere.x'],
    ['target in another stream (PLAIN)', 'plain.t9'],
    ['target with wildcard', 'orders.*'],
    ['target with > wildcard', 'orders.>'],
    ['target equal to schedule subject', 'deadline.q3-self'],
    ['no Nats-Schedule-Target', ''],
  ] as const) {
    const hdrs = target === '' ? { 'Nats-Schedule': `@at ${due}` } : at(due, target)
    log(`Q3 ${name}`, await pub(js, 'deadline.q3-self', 'x', hdrs))
  }
  const core: string[] = []
  const sub = nc.subscribe('orders.q3.>', {
    callback: (_e, m) => void core.push(m.subject),
  })
  await pub(js, 'orders.q3.control', 'ordinary publish, the core subscriber sees it', {})
  const dueMs = Date.now() + 1_500
  const extra = {
    'X-Correlation-ID': 'corr-q3',
    'Nats-TTL': '1h',
    'Nats-Expected-Last-Subject-Sequence': '0',
  }
  const body = JSON.stringify({ orderId: 'q3' })
  log(
    'Q3 schedule with payload + custom headers + msgID + Nats-TTL 1h',
    await pub(js, 'deadline.q3', body, at(iso(dueMs), 'orders.q3.expired', extra), { msgID: 'q3-msgid' }),
  )
  const holder = await arrived(w, 'deadline.q3', 3_000).then((s) => s.headers, errText)
  log('Q4 holder delivered to the unfiltered consumer, headers', holder)
  const produced = await arrived(w, 'orders.q3.expired', 5_000)
  log('Q3 produced message headers', produced.headers)
  log('Q3 produced payload equals the holder payload', produced.data === body)
  await nc.flush()
  log('Q3 core subscriber on orders.q3.> got', core)
  sub.unsubscribe()
  await waitFor(async () => (await stored(jsm, 'ORD', 'deadline.q3')) === 'none', { timeoutMs: 3_000 }).catch(
    () => undefined,
  )
  log('Q4 holder left in the stream after firing', await stored(jsm, 'ORD', 'deadline.q3'))
}

async function q5Replace(js: JetStreamClient, jsm: JetStreamManager, w: Watcher): Promise<void> {
  const t0 = Date.now()
  await pub(js, 'deadline.q5a', 'first', at(iso(t0 + 2_000), 'orders.q5a.expired'))
  await pub(js, 'deadline.q5a', 'second', at(iso(t0 + 3_000), 'orders.q5a.expired'))
  await pub(js, 'deadline.q5b', 'first', at(iso(t0 + 3_000), 'orders.q5b.expired'))
  await pub(js, 'deadline.q5b', 'second', at(iso(t0 + 1_500), 'orders.q5b.expired'))
  const info = await jsm.streams.info('ORD', { subjects_filter: 'deadline.q5*' })
  log('Q5 messages per schedule subject after two publishes each', info.state.subjects ?? {})
  const dup1 = await pub(js, 'deadline.q5d', 'one', at(iso(t0 + 2_000), 'orders.q5d.expired'), {
    msgID: 'dup-1',
  })
  const dup2 = await pub(js, 'deadline.q5d', 'two', at(iso(t0 + 1_000), 'orders.q5d.expired'), {
    msgID: 'dup-1',
  })
  log('Q5 same Nats-Msg-Id twice (2nd earlier, other payload)', { first: dup1, second: dup2 })
  await pause(Math.max(0, t0 + 4_500 - Date.now()))
  for (const s of ['q5a', 'q5b', 'q5d']) {
    const fired = w.seen.filter((m) => m.subject === `orders.${s}.expired`)
    log(
      `Q5 ${s} produced`,
      fired.map((m) => `${m.data} at +${m.at - t0} ms`),
    )
  }
  const again = await pub(js, 'deadline.q5d', 'three', at(iso(Date.now() + 1_000), 'orders.q5d.expired'), {
    msgID: 'dup-1',
  })
  log('Q5 same Nats-Msg-Id after it fired (retry)', again)
}

async function q6Precision(js: JetStreamClient, jsm: JetStreamManager, w: Watcher): Promise<void> {
  const t0 = Date.now()
  const dues = Array.from({ length: 10 }, (_, i) => t0 + 2_000 + i * 137)
  await Promise.all(
    dues.map((d, i) => pub(js, `deadline.q6-${i}`, 'x', at(iso(d), `orders.q6-${i}.expired`))),
  )
  const seen = await Promise.all(dues.map((_, i) => arrived(w, `orders.q6-${i}.expired`, 8_000)))
  log(
    'Q6 consumer arrival - @at (ms precision, 2 s ahead, staggered)',
    stats(seen.map((s, i) => s.at - (dues[i] ?? 0))),
  )
  const times = await Promise.all(
    seen.map((s) => jsm.streams.getMessage('ORD', { seq: s.seq }).then((m) => m?.time.getTime() ?? NaN)),
  )
  log('Q6 stored time - @at', stats(times.map((t, i) => t - (dues[i] ?? 0))))
  const t1 = Date.now()
  const one = wholeSecond(t1 + 2_000)
  await Promise.all(
    dues.map((_, i) =>
      pub(js, `deadline.q6s-${i}`, 'x', at(isoSeconds(one + i * 1_000), `orders.q6s-${i}.expired`)),
    ),
  )
  const seenS = await Promise.all(dues.map((_, i) => arrived(w, `orders.q6s-${i}.expired`, 15_000)))
  log(
    'Q6 consumer arrival - @at (whole seconds, 1 s apart)',
    stats(seenS.map((s, i) => s.at - (one + i * 1_000))),
  )
}

async function q7Cancel(js: JetStreamClient, jsm: JetStreamManager, w: Watcher): Promise<void> {
  const t0 = Date.now()
  const d = (s: string, ms = 2_000, extra: Hdrs = {}): Promise<Outcome> =>
    pub(js, `deadline.${s}`, s, at(iso(t0 + ms), `orders.${s}.expired`, extra))
  await d('q7p')
  log(
    'Q7 purge of the schedule subject',
    await jsm.streams.purge('ORD', { filter: 'deadline.q7p' }).then((r) => r, errText),
  )
  const del = await d('q7d')
  if ('seq' in del)
    log('Q7 delete of the holder by seq', await jsm.streams.deleteMessage('ORD', del.seq).catch(errText))
  await d('q7a')
  log(
    'Q7 atomic cancel: publish orders.q7a.paid with cancelSchedule',
    await pub(js, 'orders.q7a.paid', 'paid', {}, { cancelSchedule: { scheduleSubject: 'deadline.q7a' } }),
  )
  const c1 = await d('q7c')
  if ('seq' in c1) {
    const expect = { lastSubjectSequence: c1.seq, lastSubjectSequenceSubject: 'deadline.q7c' }
    log(
      'Q7 conditional cancel while pending (expect last subject seq = holder)',
      await pub(
        js,
        'orders.q7c.paid',
        'paid',
        {},
        { cancelSchedule: { scheduleSubject: 'deadline.q7c' }, expect },
      ),
    )
  }
  const c2 = await d('q7f', 500)
  log(
    'Q7 Nats-Scheduler on a subject with no schedule (never existed)',
    await pub(js, 'orders.q7n.paid', 'x', {}, { cancelSchedule: { scheduleSubject: 'deadline.q7-none' } }),
  )
  log(
    'Q7 Nats-Scheduler naming an ordinary message subject',
    await pub(js, 'orders.q7o.paid', 'x', {}, { cancelSchedule: { scheduleSubject: 'orders.q5a.expired' } }),
  )
  log(
    'Q7 Nats-Schedule-Next:purge without Nats-Scheduler',
    await pub(js, 'orders.q7x.paid', 'x', { 'Nats-Schedule-Next': 'purge' }),
  )
  await d('q7t', 3_000, { 'Nats-TTL': '1s' })
  await jsm.streams.add({
    name: 'AGE',
    subjects: ['age.>'],
    allow_msg_schedules: true,
    max_age: 1_000_000_000,
  })
  await pub(js, 'age.deadline', 'x', at(iso(t0 + 3_000), 'age.expired'))
  if ('seq' in c2) {
    await arrived(w, 'orders.q7f.expired', 4_000)
    const expect = { lastSubjectSequence: c2.seq, lastSubjectSequenceSubject: 'deadline.q7f' }
    log(
      'Q7 conditional cancel after it fired',
      await pub(
        js,
        'orders.q7f.paid',
        'paid',
        {},
        { cancelSchedule: { scheduleSubject: 'deadline.q7f' }, expect },
      ),
    )
  }
  await pause(Math.max(0, t0 + 4_500 - Date.now()))
  for (const s of ['q7p', 'q7d', 'q7a', 'q7c', 'q7t'])
    log(
      `Q7 ${s} produced messages (want 0, q7t = holder with Nats-TTL 1s, due +3 s)`,
      count(w, `orders.${s}.expired`),
    )
  log('Q7 stream max_age 1s, schedule due +3 s: produced', await stored(jsm, 'AGE', 'age.expired'))
  log('Q7 the cancel messages themselves stored', [
    await stored(jsm, 'ORD', 'orders.q7a.paid'),
    await stored(jsm, 'ORD', 'orders.q7c.paid'),
  ])
}

async function q8Permissions(url: string, jsm: JetStreamManager, w: Watcher): Promise<void> {
  const nc = await connect({ servers: url, user: 'limited', pass: 'limited-pw', timeout: 5_000 })
  const js = jetstream(nc)
  const due = Date.now() + 1_000
  log(
    'Q8 limited user (pub deadline.> only) schedules into orders.q8.expired',
    await pub(js, 'deadline.q8', 'x', at(iso(due), 'orders.q8.expired')),
  )
  log(
    'Q8 ... produced',
    await arrived(w, 'orders.q8.expired', 4_000).then((s) => `yes, +${s.at - due} ms`, errText),
  )
  log(
    'Q8 same user publishing orders.q8.direct itself',
    await pub(js, 'orders.q8.direct', 'x', {}, { timeout: 1_500 }),
  )
  log('Q8 ... stored', await stored(jsm, 'ORD', 'orders.q8.direct'))
  await nc.close()
}

const bin = await natsServerBin()
console.log(`nats-server ${bin}`)
const users = `authorization { users: [
  { user: admin, password: admin-pw },
  { user: limited, password: limited-pw, permissions: { publish: { allow: ["deadline.>"] }, subscribe: { allow: ["_INBOX.>"] } } }
] }`
const server = await startNatsServer({ auth: false, websocket: false, config: users, bin })
try {
  const nc = await connect({ servers: server.url, user: 'admin', pass: 'admin-pw', maxReconnectAttempts: -1 })
  const js = jetstream(nc)
  const jsm = await jetstreamManager(nc)
  await q1Config(js, jsm)
  await jsm.streams.add({
    name: 'ORD',
    subjects: ['orders.>', 'deadline.>'],
    allow_msg_schedules: true,
    allow_msg_ttl: true, // only for the Nats-TTL checks (Q3, Q7)
  })
  const w = await watch(js, 'ORD')
  await q2Formats(js, w)
  await q3q4Target(js, jsm, nc, w)
  await q5Replace(js, jsm, w)
  await q6Precision(js, jsm, w)
  await q7Cancel(js, jsm, w)
  await q8Permissions(server.url, jsm, w)
  await w.stop()

  // Q6b: kill -9 before the due time; one schedule falls due while the server is down, one after it is back.
  const t0 = Date.now()
  const early = t0 + 2_000
  const late = t0 + 9_000
  await pub(js, 'deadline.q6r-early', 'x', at(iso(early), 'orders.q6r-early.expired'))
  await pub(js, 'deadline.q6r-late', 'x', at(iso(late), 'orders.q6r-late.expired'))
  await server.kill()
  await pause(Math.max(0, t0 + 4_000 - Date.now()))
  await server.restart()
  const back = Date.now()
  for (const [name, due] of [
    ['early', early],
    ['late', late],
  ] as const) {
    const m = await waitFor(
      () => jsm.streams.getMessage('ORD', { last_by_subj: `orders.q6r-${name}.expired` }),
      {
        timeoutMs: 15_000,
      },
    ).catch(errText)
    const when =
      typeof m === 'string'
        ? m
        : `stored ${m.time.getTime() - due} ms after @at, ${m.time.getTime() - back} ms after restart`
    log(`Q6 kill -9, restart at +${back - t0} ms: ${name} (@at +${due - t0} ms)`, when)
  }
  await nc.close()
} finally {
  await server.dispose()
}

if (!values['no-cluster']) {
  const removeSecrets = process.env[TEST_SECRETS_ENV] ? undefined : await createTestSecrets()
  const started = Date.now()
  const cluster = await startNatsCluster({ size: 3, bin })
  try {
    log('R3 cluster usable after', `${Date.now() - started} ms`)
    const nc = await connect({ ...cluster.connectOptions(), maxReconnectAttempts: -1 })
    const js = jetstream(nc)
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({
      name: 'ORD3',
      subjects: ['orders.>', 'deadline.>'],
      allow_msg_schedules: true,
      num_replicas: 3,
    })
    const leader = await waitForStreamLeader(nc, 'ORD3')
    const w = await watch(js, 'ORD3')
    const t0 = Date.now()
    const dues = Array.from({ length: 10 }, (_, i) => t0 + 2_000 + i * 137)
    await Promise.all(
      dues.map((d, i) => pub(js, `deadline.c-${i}`, 'x', at(iso(d), `orders.c-${i}.expired`))),
    )
    const seen = await Promise.all(dues.map((_, i) => arrived(w, `orders.c-${i}.expired`, 10_000)))
    log('R3 consumer arrival - @at', stats(seen.map((s, i) => s.at - (dues[i] ?? 0))))
    const t1 = Date.now()
    const later = Array.from({ length: 5 }, (_, i) => t1 + 3_000 + i * 200)
    await Promise.all(
      later.map((d, i) => pub(js, `deadline.f-${i}`, 'x', at(iso(d), `orders.f-${i}.expired`))),
    )
    await cluster.nodeByName(leader).kill()
    const killedAt = Date.now() - t1
    const next = await waitForStreamLeader(nc, 'ORD3', 20_000, leader)
    log(
      `R3 killed stream leader ${leader} at +${killedAt} ms (first @at +3000 ms); new leader seen`,
      `${next} at +${Date.now() - t1} ms`,
    )
    // The ordered consumer stalled after the leader kill (its node died): read the stream instead.
    const times = await Promise.all(
      later.map((_, i) =>
        waitFor(() => jsm.streams.getMessage('ORD3', { last_by_subj: `orders.f-${i}.expired` }), {
          timeoutMs: 30_000,
          intervalMs: 100,
        }).catch(() => null),
      ),
    )
    log(
      'R3 after leader kill: stored time - @at',
      times.map((m, i) => (m ? m.time.getTime() - (later[i] ?? 0) : 'never')).join(', '),
    )
    await pause(2_000)
    const info = await jsm.streams.info('ORD3', { subjects_filter: '>' })
    log(
      'R3 messages per subject after failover (want 1 per orders.f-*, 0 deadline.f-*)',
      info.state.subjects ?? {},
    )
    await w.stop()
    await nc.close()
  } finally {
    await cluster.dispose()
    await removeSecrets?.()
  }
}
