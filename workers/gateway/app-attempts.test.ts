import { describe, expect, it } from 'vitest'
import { chargeBody, chargeView, createMemoryJournal, createTestApp } from './app-fixture.ts'
import type { LedgerFact } from './ledger.ts'

/** Whether a response's body reads ('read') or fails ('failed', a dropped connection). */
const readOutcome = (response: Response) =>
  response.text().then(
    () => 'read',
    () => 'failed',
  )

describe('GET /charge-attempts/{idempotencyKey}', () => {
  it('answers succeeded with the charge, declined with the code, and 404 for a key never seen', async () => {
    const { charge, read } = createTestApp()
    await charge('key-ok', chargeBody())
    await charge('key-declined', chargeBody({ token: 'tok_declined' }))

    expect(await read('/charge-attempts/key-ok')).toStrictEqual([
      200,
      { idempotencyKey: 'key-ok', status: 'succeeded', charge: chargeView() },
    ])
    expect(await read('/charge-attempts/key-declined')).toStrictEqual([
      200,
      { idempotencyKey: 'key-declined', status: 'declined', code: 'card_declined' },
    ])
    expect(await read('/charge-attempts/key-never')).toStrictEqual([
      404,
      { error: 'not_found', message: 'no charge attempt under idempotency key key-never' },
    ])
  })

  it('answers 404 for a key released after a 503, and finds keys with reserved characters', async () => {
    const { charge, read } = createTestApp()
    await charge('key-flaky', chargeBody({ token: 'tok_flaky' }))
    await charge('order/1#2?', chargeBody())

    expect((await read('/charge-attempts/key-flaky'))[0]).toBe(404)
    expect(await read(`/charge-attempts/${encodeURIComponent('order/1#2?')}`)).toMatchObject([
      200,
      { idempotencyKey: 'order/1#2?', status: 'succeeded' },
    ])
  })
})

describe('answers lost after the charge', () => {
  it('tok_drop: writes the charge, gives no answer, and a retry replays it', async () => {
    const { charge, read, logs } = createTestApp()

    const dropped = await charge('key-1', chargeBody({ token: 'tok_drop' }))
    const body = await readOutcome(dropped)
    const retry = await charge('key-1', chargeBody({ token: 'tok_drop' }))

    expect(body).toBe('failed')
    expect(dropped.status).toBe(444) // never sent: what metrics count
    expect([retry.status, await retry.json()]).toStrictEqual([201, chargeView()])
    expect(retry.headers.get('Idempotent-Replayed')).toBe('true')
    expect(await read('/charges')).toStrictEqual([200, { charges: [chargeView()] }])
    expect(logs()[0]).toMatchObject({ outcome: 'succeeded', chargeId: 'ch_1', delivery: 'drop' })
  })

  it('tok_error_after_charge: writes the charge, answers 500 internal_error, and a retry replays it', async () => {
    const { charge, logs } = createTestApp()

    const failed = await charge('key-1', chargeBody({ token: 'tok_error_after_charge' }))
    const retry = await charge('key-1', chargeBody({ token: 'tok_error_after_charge' }))

    expect([failed.status, await failed.json()]).toStrictEqual([500, { error: 'internal_error' }])
    expect([retry.status, await retry.json()]).toStrictEqual([201, chargeView()])
    expect(retry.headers.get('Idempotent-Replayed')).toBe('true')
    expect(logs().filter(({ level }) => level === 'error')).toStrictEqual([])
  })

  it('applies GATEWAY_SLOW_RATE, GATEWAY_DROP_RATE and GATEWAY_ERROR_AFTER_CHARGE_RATE to any token, one draw per rate', async () => {
    // Per attempt: failure, slow, drop, error-after-charge (each rate 0.5 here).
    const draws = [
      [0.9, 0.1, 0.9, 0.9], // tok_ok, slowed
      [0.9, 0.9, 0.1, 0.9], // tok_ok, dropped
      [0.9, 0.9, 0.9, 0.1], // tok_declined, written then 500
    ].flat()
    const sleeps: number[] = []
    let drawn = 0
    const { charge } = createTestApp({
      config: { failureRate: 0.5, slowRate: 0.5, dropRate: 0.5, errorAfterChargeRate: 0.5, slowMs: 700 },
      random: () => (drawn++, draws.shift() ?? 0.9),
      sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
    })

    const slowed = await charge('key-1', chargeBody())
    const dropped = await charge('key-2', chargeBody({ orderId: 'order-2' }))
    const declined = await charge('key-3', chargeBody({ token: 'tok_declined' }))
    const declineReplayed = await charge('key-3', chargeBody({ token: 'tok_declined' }))

    expect([slowed.status, sleeps]).toStrictEqual([201, [700]])
    expect(dropped.status).toBe(444)
    expect(await readOutcome(dropped)).toBe('failed')
    expect([declined.status, await declined.json()]).toStrictEqual([500, { error: 'internal_error' }])
    expect([declineReplayed.status, await declineReplayed.json()]).toStrictEqual([
      402,
      { error: 'card_declined' },
    ])
    expect(drawn).toBe(13) // four per new attempt, the failure rate only for the replay
  })
})

describe('the journal', () => {
  it('gets every settled fact, with a fingerprint and never the card token', async () => {
    const stored = createMemoryJournal()
    const { charge, refund } = createTestApp({ journal: stored.journal })
    await charge('key-1', chargeBody())
    await charge('key-2', chargeBody({ token: 'tok_declined', orderId: 'order-2' }))
    await charge('key-3', chargeBody({ token: 'tok_flaky', orderId: 'order-3' }))
    await refund('refund-1', { chargeId: 'ch_1', amountCents: 99 })

    expect(stored.appended.map(({ type, key }) => [type, key])).toStrictEqual([
      ['charge_succeeded', 'key-1'],
      ['charge_declined', 'key-2'],
      ['refund_succeeded', 'refund-1'],
    ])
    expect(stored.appended.every((fact) => /^[0-9a-f]{64}$/.test(fact.fingerprint))).toBe(true)
    expect(JSON.stringify(stored.appended)).not.toContain('tok_')
  })

  it('records nothing and frees the key when the write fails', async () => {
    const stored = createMemoryJournal()
    const { charge, read } = createTestApp({ journal: stored.journal })

    stored.failWith(new Error('disk full'))
    const failed = await charge('key-1', chargeBody())
    stored.failWith(undefined)
    const retry = await charge('key-1', chargeBody())

    expect(failed.status).toBe(500)
    expect(retry.status).toBe(201)
    expect(retry.headers.get('Idempotent-Replayed')).toBeNull()
    expect(await read('/charges')).toMatchObject([200, { charges: [{ id: 'ch_2' }] }])
  })

  it('is replayed on start: charges, declines, refunds and their keys come back', async () => {
    const first = createMemoryJournal()
    const before = createTestApp({ journal: first.journal })
    await before.charge('key-1', chargeBody())
    await before.charge('key-2', chargeBody({ token: 'tok_declined' }))
    await before.refund('refund-1', { chargeId: 'ch_1', amountCents: 500 })
    const facts: LedgerFact[] = [...first.appended]

    const { charge, refund, read } = createTestApp({ journal: createMemoryJournal(facts).journal })
    const replayed = await charge('key-1', chargeBody())
    const reused = await charge('key-1', chargeBody({ amountCents: 1 }))
    const declined = await charge('key-2', chargeBody({ token: 'tok_declined' }))
    const refundReplayed = await refund('refund-1', { chargeId: 'ch_1', amountCents: 500 })

    expect(replayed.status).toBe(201)
    expect(await replayed.json()).toMatchObject({ id: 'ch_1', amountRefundedCents: 500 })
    expect(reused.status).toBe(409)
    expect([declined.status, declined.headers.get('Idempotent-Replayed')]).toStrictEqual([402, 'true'])
    expect([refundReplayed.status, refundReplayed.headers.get('Idempotent-Replayed')]).toStrictEqual([
      201,
      'true',
    ])
    expect(await read('/charges/ch_1')).toMatchObject([200, { amountRefundedCents: 500 }])
  })
})
