// The dead-letter operator commands (`npm run dlq -- list|show|replay|purge`) on
// dead letters the advisory capture stored, on a real nats-server; the CLI also
// as a real `bun` process.
import { execFile } from 'node:child_process'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { headers } from '@nats-io/nats-core'
import { describe, expect, it } from 'vitest'
import {
  DEAD_LETTER_HEADERS,
  HEADERS,
  laneSubject,
  STREAMS,
  SUBJECTS,
  toDeadlineFiredSubject,
} from '../schemas/subjects.ts'
import { formatDeadLetterLine, forTerminal } from '../scripts/dlq.ts'
import {
  DeadLetterNotFoundError,
  DeadLetterNotReplayableError,
  listDeadLetters,
  purgeDeadLetters,
  replayDeadLetter,
  showDeadLetter,
} from '../shared/nats/dead-letter-admin.ts'
import { advisoryStreamConfig, ADVISORY_STREAM } from '../shared/nats/dead-letter-capture.ts'
import { ensureStream } from '../shared/nats/topology.ts'
import { waitFor } from './harness/wait-for.ts'
import { testSecrets } from './harness/test-secrets.ts'
import { limits, ORDERS, orderCreated, startDeadLetterFixture } from './support/dead-letter-fixture.ts'

const DLQ_ORDER_CREATED = `dlq.${SUBJECTS.orderCreated}`

const ROOT = join(import.meta.dirname, '..')
const BUN = join(ROOT, 'node_modules', '.bin', 'bun')

/** `bun scripts/dlq.ts <args>` with a deadline; resolves with its exit code and output. */
function runCli(
  args: readonly string[],
  natsUrl: string,
  seed = testSecrets().nats.admin.seed,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, NATS_URL: natsUrl, NATS_NKEY_SEED: seed }
    execFile(
      BUN,
      ['scripts/dlq.ts', ...args],
      { cwd: ROOT, env, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}

describe('npm run dlq', () => {
  it('lists, shows, replays (once per id, correlation id kept) and purges dead letters', async () => {
    await using f = await startDeadLetterFixture()
    const worker = await f.worker('operator')
    await f.capture('operator')
    const payload = orderCreated()
    const seq = await f.publishOrder(payload, 'corr-replay')
    ;(await worker.next({ expires: 2_000 }))?.term('bad data')
    const cancelledSeq = await f.publishOrder('{"broken', 'corr-other', SUBJECTS.orderCancelled)
    ;(await worker.next({ expires: 2_000 }))?.term()

    const letters = await waitFor(
      async () => {
        const found = await listDeadLetters(f.js, f.jsm)
        return found.length === 2 ? found : undefined
      },
      { message: 'two dead letters' },
    )
    const common = {
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      stream: ORDERS,
      consumer: 'operator',
      deliveries: 1,
    }
    expect(letters).toStrictEqual([
      {
        ...common,
        id: 1,
        dlqSubject: DLQ_ORDER_CREATED,
        subject: SUBJECTS.orderCreated,
        sequence: seq,
        reason: 'terminated: bad data',
      },
      {
        ...common,
        id: 2,
        dlqSubject: `dlq.${SUBJECTS.orderCancelled}`,
        subject: SUBJECTS.orderCancelled,
        sequence: cancelledSeq,
        reason: 'terminated',
      },
    ])
    const [first] = letters
    expect(first && formatDeadLetterLine(first)).toBe(
      `1  ${first?.time}  orders.created  seq=${seq}  consumer=operator  deliveries=1  reason=terminated: bad data`,
    )
    expect(
      (await listDeadLetters(f.js, f.jsm, { subject: `dlq.${SUBJECTS.orderCancelled}` })).map((d) => d.id),
    ).toStrictEqual([2])

    const shown = await showDeadLetter(f.jsm, 1)
    expect(JSON.parse(shown.payload)).toStrictEqual(payload)
    expect(shown.headers).toMatchObject({
      [HEADERS.correlationId]: ['corr-replay'],
      [DEAD_LETTER_HEADERS.reason]: ['terminated: bad data'],
    })
    await expect(showDeadLetter(f.jsm, 99)).rejects.toThrow(DeadLetterNotFoundError)

    const replayed = await replayDeadLetter(f.js, f.jsm, 1)
    expect(replayed).toStrictEqual({
      id: 1,
      subject: SUBJECTS.orderCreated,
      msgId: 'replay:DLQ:1',
      headers: { [HEADERS.correlationId]: ['corr-replay'], [HEADERS.eventVersion]: ['1'] },
      bytes: JSON.stringify(payload).length,
      stream: ORDERS,
      seq: expect.any(Number),
      duplicate: false,
    })
    expect(await replayDeadLetter(f.js, f.jsm, 1)).toMatchObject({ seq: replayed.seq, duplicate: true })
    const info = await f.jsm.streams.info(ORDERS, { subjects_filter: SUBJECTS.orderCreated })
    expect(info.state.subjects).toStrictEqual({ [SUBJECTS.orderCreated]: 2 }) // the original and one replay
    // The replay reaches the worker's consumer like any event.
    const again = await worker.next({ expires: 2_000 })
    expect(again?.seq).toBe(replayed.seq)
    expect(again?.json()).toStrictEqual(payload)
    expect(again?.headers?.get(HEADERS.correlationId)).toBe('corr-replay')
    expect(again?.headers?.get(HEADERS.msgId)).toBe('replay:DLQ:1')
    expect(again?.headers?.has(DEAD_LETTER_HEADERS.reason)).toBe(false)
    again?.ack()

    expect(await purgeDeadLetters(f.js, f.jsm, { subject: `dlq.${SUBJECTS.orderCancelled}` })).toBe(1)
    expect((await listDeadLetters(f.js, f.jsm)).map((d) => d.id)).toStrictEqual([1])
    expect(await purgeDeadLetters(f.js, f.jsm)).toBe(1)
    expect(await listDeadLetters(f.js, f.jsm)).toStrictEqual([])
  })

  it('lists and purges large dead letters by their headers only, every one of them, over many pulls', async () => {
    await using f = await startDeadLetterFixture()
    // 40 of 900 KB and 210 small ones: more than one pull (and than nats.js's 100 a pull by bytes) holds.
    const letters = 250
    const large = new Uint8Array(900 * 1024).fill(120)
    for (let i = 0; i < letters; i++) {
      const h = headers()
      h.set(DEAD_LETTER_HEADERS.reason, 'max_deliver_exhausted')
      h.set(DEAD_LETTER_HEADERS.subject, SUBJECTS.orderCreated)
      await f.js.publish(DLQ_ORDER_CREATED, i < 40 ? large : '{}', { headers: h })
    }
    // 36 MB stored: a summary reads only headers, so the list brings a few dozen KB.
    const before = f.nc.stats().inBytes
    const listed = await listDeadLetters(f.js, f.jsm)
    const read = f.nc.stats().inBytes - before
    expect(listed.map((d) => d.id)).toStrictEqual(Array.from({ length: letters }, (_, i) => i + 1))
    expect(listed.every((d) => d.reason === 'max_deliver_exhausted')).toBe(true)
    expect(read).toBeLessThan(256 * 1024)
    expect(await purgeDeadLetters(f.js, f.jsm)).toBe(letters)
    expect(await f.dlqCount()).toBe(0)
  })

  it('replays under a fresh id when another message already holds the replay id (ids can be guessed)', async () => {
    await using f = await startDeadLetterFixture()
    const worker = await f.worker('operator')
    await f.capture('operator')
    const payload = orderCreated()
    await f.publishOrder(payload, 'corr-guess')
    ;(await worker.next({ expires: 2_000 }))?.term('bad data')
    await waitFor(async () => (await listDeadLetters(f.js, f.jsm)).length === 1, {
      message: 'the dead letter',
    })
    // Someone who may publish into ORDERS stores a message of its own under the id replay 1 will use.
    const planted = await f.js.publish(SUBJECTS.orderCancelled, '{}', { msgID: 'replay:DLQ:1' })
    const replayed = await replayDeadLetter(f.js, f.jsm, 1)
    expect(replayed).toMatchObject({ subject: SUBJECTS.orderCreated, duplicate: false })
    expect(replayed.msgId).toMatch(/^replay:DLQ:1~[0-9a-f-]{36}$/)
    expect(replayed.seq).not.toBe(planted.seq)
    const stored = await f.jsm.streams.getMessage(ORDERS, { seq: replayed.seq })
    expect([stored?.subject, stored?.json()]).toStrictEqual([SUBJECTS.orderCreated, payload])
  })

  it('prints what a publisher put in a dead letter without the control characters a terminal obeys', () => {
    const planted = 'ok\u001b[2J\u001b[31mFAKE: all clear\u001b]0;pwned\u0007 \u009b1m \u202eevil\r'
    const shown = forTerminal(`reason=${planted}\n{\t"a": 1}`)
    expect(shown).toBe(
      'reason=ok\\u001b[2J\\u001b[31mFAKE: all clear\\u001b]0;pwned\\u0007 \\u009b1m \\u202eevil\\u000d\n{\t"a": 1}',
    )
    // eslint-disable-next-line no-control-regex -- no control character may be left
    expect(shown).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/)
    // Inside `list --json` the same escapes keep the JSON valid and its strings unchanged.
    expect(JSON.parse(forTerminal(JSON.stringify({ reason: planted })))).toStrictEqual({ reason: planted })
  })

  it('refuses to replay a dead letter whose original is gone', async () => {
    await using f = await startDeadLetterFixture()
    await ensureStream(f.jsm, advisoryStreamConfig(limits))
    const worker = await f.worker('gone')
    const seq = await f.publishOrder(orderCreated(), 'corr-gone')
    ;(await worker.next({ expires: 2_000 }))?.term()
    await waitFor(async () => (await f.jsm.streams.info(ADVISORY_STREAM)).state.messages === 1, {
      message: 'the advisory kept',
    })
    await f.jsm.streams.deleteMessage(ORDERS, seq)
    await f.capture('gone')
    const [letter] = await waitFor(async () =>
      (await f.dlqCount()) === 1 ? await listDeadLetters(f.js, f.jsm) : undefined,
    )
    expect(letter).toMatchObject({
      id: 1,
      subject: null,
      sequence: seq,
      reason: 'terminated: original message no longer in stream',
    })
    await expect(replayDeadLetter(f.js, f.jsm, 1)).rejects.toThrow(DeadLetterNotReplayableError)
  })

  it('replays the original from its stream, never a dead letter planted with a body of its own', async () => {
    await using f = await startDeadLetterFixture()
    const body = orderCreated()
    const genuine = await f.js.publish(SUBJECTS.orderCreated, JSON.stringify(body), {
      headers: (() => {
        const h = headers()
        h.set(HEADERS.correlationId, 'corr-genuine')
        h.set(HEADERS.eventVersion, '1')
        return h
      })(),
    })
    const plant = async (body: string, names: Record<string, string>) => {
      const h = headers()
      for (const [key, value] of Object.entries(names)) h.set(key, value)
      const on = names[DEAD_LETTER_HEADERS.subject] ?? SUBJECTS.orderCreated
      return (await f.js.publish(`dlq.${on}`, body, { headers: h })).seq
    }
    const forged = JSON.stringify({ ...body, customerId: 'mallory' })
    // No original named: nothing to replay.
    const bare = await plant(forged, { [DEAD_LETTER_HEADERS.subject]: SUBJECTS.orderCreated })
    await expect(replayDeadLetter(f.js, f.jsm, bare)).rejects.toThrow(DeadLetterNotReplayableError)
    // An original that is on another subject: refused.
    const elsewhere = await plant(forged, {
      [DEAD_LETTER_HEADERS.subject]: SUBJECTS.orderCancelled,
      [DEAD_LETTER_HEADERS.stream]: ORDERS,
      [DEAD_LETTER_HEADERS.sequence]: String(genuine.seq),
    })
    await expect(replayDeadLetter(f.js, f.jsm, elsewhere)).rejects.toThrow(/is on orders\.created/)
    // A stream the saga does not read: refused.
    const foreign = await plant(forged, {
      [DEAD_LETTER_HEADERS.subject]: SUBJECTS.orderCreated,
      [DEAD_LETTER_HEADERS.stream]: 'KV_order-status',
      [DEAD_LETTER_HEADERS.sequence]: '1',
    })
    await expect(replayDeadLetter(f.js, f.jsm, foreign)).rejects.toThrow(DeadLetterNotReplayableError)
    // The right original: what goes out is the stream's message, not the planted body.
    const matching = await plant(forged, {
      [DEAD_LETTER_HEADERS.subject]: SUBJECTS.orderCreated,
      [DEAD_LETTER_HEADERS.stream]: ORDERS,
      [DEAD_LETTER_HEADERS.sequence]: String(genuine.seq),
      [HEADERS.correlationId]: 'corr-forged',
    })
    const replayed = await replayDeadLetter(f.js, f.jsm, matching)
    expect(replayed.headers[HEADERS.correlationId]).toStrictEqual(['corr-genuine'])
    const published = await f.jsm.streams.getMessage(ORDERS, { seq: replayed.seq })
    expect(published?.json()).toStrictEqual(body)
    // Stored on one subject, naming another: refused.
    const h = headers()
    h.set(DEAD_LETTER_HEADERS.subject, SUBJECTS.orderCancelled)
    h.set(DEAD_LETTER_HEADERS.stream, ORDERS)
    h.set(DEAD_LETTER_HEADERS.sequence, String(genuine.seq))
    const mismatched = (await f.js.publish(`dlq.${SUBJECTS.orderCreated}`, forged, { headers: h })).seq
    await expect(replayDeadLetter(f.js, f.jsm, mismatched)).rejects.toThrow(
      /is stored on dlq\.orders\.created/,
    )
  })

  it('replays a dead-lettered due deadline into ORDERS as the cancellation it carries, and nothing else', async () => {
    await using f = await startDeadLetterFixture()
    const orderId = orderCreated().orderId
    const firedSubject = toDeadlineFiredSubject(laneSubject(SUBJECTS.orderCancelRequested, 'express'))
    const plant = async (subject: string, body: unknown) => {
      const h = headers()
      h.set(DEAD_LETTER_HEADERS.subject, subject)
      h.set(DEAD_LETTER_HEADERS.stream, STREAMS.deadlines.name)
      h.set(DEAD_LETTER_HEADERS.sequence, '7')
      h.set(HEADERS.correlationId, 'corr-deadline')
      return (await f.js.publish(`dlq.${subject}`, JSON.stringify(body), { headers: h })).seq
    }
    const deadline = {
      version: 1,
      orderId,
      occurredAt: new Date().toISOString(),
      reason: 'deadline_exceeded',
    }
    const replayed = await replayDeadLetter(f.js, f.jsm, await plant(firedSubject, deadline))
    expect(replayed).toMatchObject({
      subject: `${SUBJECTS.orderCancelRequested}.express`,
      stream: ORDERS,
      headers: { [HEADERS.correlationId]: ['corr-deadline'] },
    })
    const published = await f.jsm.streams.getMessage(ORDERS, { seq: replayed.seq })
    expect([published?.subject, published?.json()]).toStrictEqual([
      `${SUBJECTS.orderCancelRequested}.express`,
      deadline,
    ])
    // Anything but a deadline's cancellation is refused: another reason, another body, a schedule holder.
    for (const [subject, body] of [
      [firedSubject, { ...deadline, reason: 'customer_request' }],
      [firedSubject, { forged: true }],
      [toDeadlineFiredSubject(SUBJECTS.orderCancelled), { ...deadline, reason: 'out_of_stock' }],
      [`deadlines.pending.${orderId}`, deadline],
    ] as const) {
      await expect(replayDeadLetter(f.js, f.jsm, await plant(subject, body)), subject).rejects.toThrow(
        DeadLetterNotReplayableError,
      )
    }
  })

  it('exits 1 within its deadline when the server accepts the connection and never answers', async () => {
    const sockets = new Set<Socket>()
    const silent = createServer((socket) => {
      sockets.add(socket)
      socket.on('close', () => sockets.delete(socket))
    })
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done))
    try {
      const { port } = silent.address() as AddressInfo
      const started = Date.now()
      // A password in the URL is not printed.
      const { code, stderr } = await runCli(['list'], `nats://admin:Dlq-Url-Pw9@127.0.0.1:${port}`)
      expect([code, stderr]).toStrictEqual([
        1,
        expect.stringContaining('cannot connect to nats://***@127.0.0.1:'),
      ])
      expect(stderr).not.toContain('Dlq-Url-Pw9')
      // NATS_REQUEST_TIMEOUT_MS (5 s by default), not the test's 20 s kill.
      expect(Date.now() - started).toBeLessThan(12_000)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((done) => silent.close(done))
    }
  })

  it('exits 1 with one line, no stack, for a seed that is not one', async () => {
    // A seed's shape with a bad checksum (its last characters changed).
    const bad = `${testSecrets().nats.admin.seed.slice(0, -8)}AAAAAAAA`
    const { code, stdout, stderr } = await runCli(['list'], 'nats://127.0.0.1:9', bad)
    expect({ code, stdout, stderr }).toStrictEqual({
      code: 1,
      stdout: '',
      stderr: 'dlq: NATS_NKEY_SEED: not an NKEY seed (nkeys: invalid checksum)\n',
    })
  })

  it('runs as a command: list --json, and exit 1 with the usage on bad input', async () => {
    await using f = await startDeadLetterFixture()
    const worker = await f.worker('cli')
    await f.capture('cli')
    const seq = await f.publishOrder(orderCreated(), 'corr-cli')
    ;(await worker.next({ expires: 2_000 }))?.term('cli test')
    await waitFor(async () => (await f.dlqCount()) === 1, { message: 'the dead letter' })

    const list = await runCli(['list', '--json'], f.server.url)
    expect(list).toMatchObject({ code: 0, stderr: '' })
    expect(JSON.parse(list.stdout)).toMatchObject([
      { id: 1, subject: SUBJECTS.orderCreated, sequence: seq, reason: 'terminated: cli test' },
    ])
    // Another identity's seed: one line naming the identity it needs, not the server's error twice.
    const asOrder = await runCli(['list'], f.server.url, testSecrets().nats.order.seed)
    expect(asOrder.code).toBe(1)
    expect(asOrder.stderr.trim().split('\n')).toStrictEqual([
      expect.stringMatching(
        /^dlq: nats-server refused this identity \$JS\.API\.\S+: the dead-letter commands need the admin identity/,
      ),
    ])
    const bad = await runCli(['replay', 'first'], f.server.url)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('replay takes one id')
    expect(bad.stderr).toContain('usage: npm run dlq -- <command>')
  })
})
