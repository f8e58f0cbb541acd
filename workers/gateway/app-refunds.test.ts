import { describe, expect, it } from 'vitest'
import { chargeBody, chargeView, createMemoryJournal, createTestApp, created } from './app-fixture.ts'

const refundOf = (id: string, amountCents: number) => ({
  id,
  object: 'refund',
  chargeId: 'ch_1',
  amountCents,
  currency: 'EUR',
  orderId: 'order-1',
  status: 'succeeded',
  created,
})

/** The app with one charge of 1999 EUR cents, `ch_1`. */
async function withCharge(options: Parameters<typeof createTestApp>[0] = {}) {
  const fixture = createTestApp(options)
  expect((await fixture.charge('charge-key', chargeBody())).status).toBe(201)
  return fixture
}

describe('POST /refunds', () => {
  it('refunds part of a charge, then the rest, and shows both with the charge everywhere', async () => {
    const { refund, read } = await withCharge()

    const part = await refund('refund-1', { chargeId: 'ch_1', amountCents: 500 })
    const rest = await refund('refund-2', { chargeId: 'ch_1' })

    expect([part.status, await part.json()]).toStrictEqual([201, refundOf('re_1', 500)])
    expect(part.headers.get('Idempotent-Replayed')).toBeNull()
    expect([rest.status, await rest.json()]).toStrictEqual([201, refundOf('re_2', 1499)])
    const charge = chargeView({
      amountRefundedCents: 1999,
      refunds: [refundOf('re_1', 500), refundOf('re_2', 1499)],
    })
    expect(await read('/charges/ch_1')).toStrictEqual([200, charge])
    expect(await read('/charges?orderId=order-1')).toStrictEqual([200, { charges: [charge] }])
    expect(await read('/charge-attempts/charge-key')).toStrictEqual([
      200,
      { idempotencyKey: 'charge-key', status: 'succeeded', charge },
    ])
    expect(await read('/refunds?chargeId=ch_1')).toStrictEqual([
      200,
      { refunds: [refundOf('re_1', 500), refundOf('re_2', 1499)] },
    ])
    expect(await read('/refunds?chargeId=ch_404')).toStrictEqual([200, { refunds: [] }])
  })

  it('shows the refunds on a replayed charge', async () => {
    const { charge, refund } = await withCharge()
    await refund('refund-1', { chargeId: 'ch_1', amountCents: 300 })

    const replay = await charge('charge-key', chargeBody())

    expect([replay.status, await replay.json()]).toStrictEqual([
      201,
      chargeView({ amountRefundedCents: 300, refunds: [refundOf('re_1', 300)] }),
    ])
  })

  it('replays the same key and body, refuses the same key with another body', async () => {
    const { refund, read } = await withCharge()
    await refund('refund-1', { chargeId: 'ch_1', amountCents: 500 })

    const replay = await refund('refund-1', { chargeId: 'ch_1', amountCents: 500 })
    const reused = await refund('refund-1', { chargeId: 'ch_1', amountCents: 400 })
    const omitted = await refund('refund-1', { chargeId: 'ch_1' })

    expect([replay.status, await replay.json()]).toStrictEqual([201, refundOf('re_1', 500)])
    expect(replay.headers.get('Idempotent-Replayed')).toBe('true')
    expect([reused.status, await reused.json()]).toStrictEqual([409, { error: 'idempotency_key_reused' }])
    expect([omitted.status, await omitted.json()]).toStrictEqual([409, { error: 'idempotency_key_reused' }])
    expect(await read('/refunds')).toStrictEqual([200, { refunds: [refundOf('re_1', 500)] }])
  })

  it('answers 422 refund_exceeds_charge over what remains, and for a fully refunded charge', async () => {
    const { refund, read } = await withCharge()
    await refund('refund-1', { chargeId: 'ch_1', amountCents: 1500 })

    const over = await refund('refund-2', { chargeId: 'ch_1', amountCents: 500 })
    const exact = await refund('refund-3', { chargeId: 'ch_1', amountCents: 499 })
    const nothingLeft = await refund('refund-4', { chargeId: 'ch_1' })
    const retryOver = await refund('refund-2', { chargeId: 'ch_1', amountCents: 1 })

    expect([over.status, await over.json()]).toStrictEqual([
      422,
      {
        error: 'refund_exceeds_charge',
        message: '500 cents exceed the 499 cents still refundable on charge ch_1',
      },
    ])
    expect(exact.status).toBe(201)
    expect([nothingLeft.status, await nothingLeft.json()]).toStrictEqual([
      422,
      { error: 'refund_exceeds_charge', message: 'charge ch_1 is fully refunded' },
    ])
    // A refused refund is not remembered under its key.
    expect((await retryOver.json()) as unknown).toMatchObject({ error: 'refund_exceeds_charge' })
    const [, charge] = await read('/charges/ch_1')
    expect(charge).toMatchObject({ amountRefundedCents: 1999 })
  })

  it('answers 404 charge_not_found for an unknown charge', async () => {
    const { refund } = await withCharge()
    const response = await refund('refund-1', { chargeId: 'ch_404', amountCents: 1 })
    expect([response.status, await response.json()]).toStrictEqual([
      404,
      { error: 'charge_not_found', message: 'no charge ch_404' },
    ])
  })

  it('answers 400 for a missing key, malformed JSON or an invalid body, listing every issue', async () => {
    const { refund, read } = await withCharge()

    const noKey = await refund(undefined, { chargeId: 'ch_1' })
    const malformed = await refund('refund-1', '{"chargeId":')
    const invalid = await refund('refund-1', { amountCents: 0, reason: 'duplicate' })

    expect([noKey.status, await noKey.json()]).toStrictEqual([
      400,
      { error: 'missing_idempotency_key', message: expect.stringContaining('Idempotency-Key') },
    ])
    expect([malformed.status, await malformed.json()]).toStrictEqual([
      400,
      { error: 'malformed_json', message: 'the body is not valid JSON' },
    ])
    expect([invalid.status, await invalid.json()]).toStrictEqual([
      400,
      {
        error: 'invalid_request',
        message: 'chargeId: is required; amountCents: must be >= 1; reason: is not a known field',
        issues: [
          { path: 'chargeId', message: 'is required' },
          { path: 'amountCents', message: 'must be >= 1' },
          { path: 'reason', message: 'is not a known field' },
        ],
      },
    ])
    expect(await read('/refunds')).toStrictEqual([200, { refunds: [] }])
  })

  it('answers 503 with probability GATEWAY_FAILURE_RATE before writing anything', async () => {
    const draws = [0.9, 0.1, 0.9] // the charge, the failed refund, its retry
    const stored = createMemoryJournal()
    const { refund } = await withCharge({
      config: { failureRate: 0.5 },
      random: () => draws.shift() ?? 1,
      journal: stored.journal,
    })

    const failed = await refund('refund-1', { chargeId: 'ch_1', amountCents: 100 })
    const written = stored.appended.length
    const retry = await refund('refund-1', { chargeId: 'ch_1', amountCents: 100 })

    expect([failed.status, await failed.json()]).toStrictEqual([503, { error: 'unavailable' }])
    expect(written).toBe(1) // the charge only
    expect(retry.status).toBe(201)
    expect(retry.headers.get('Idempotent-Replayed')).toBeNull()
  })

  it('writes the refund to the journal before answering; a failed write answers 500 and records nothing', async () => {
    const stored = createMemoryJournal()
    const { refund, read, logs } = await withCharge({ journal: stored.journal })

    stored.failWith(new Error('disk full'))
    const failed = await refund('refund-1', { chargeId: 'ch_1', amountCents: 100 })
    stored.failWith(undefined)
    const made = await refund('refund-1', { chargeId: 'ch_1', amountCents: 100 })

    expect(failed.status).toBe(500)
    expect(logs().filter(({ level }) => level === 'error')).toMatchObject([{ err: { message: 'disk full' } }])
    expect(made.status).toBe(201)
    expect(stored.appended.map((fact) => fact.type)).toStrictEqual(['charge_succeeded', 'refund_succeeded'])
    expect(await read('/refunds')).toStrictEqual([200, { refunds: [refundOf('re_2', 100)] }])
  })

  it('counts refunds by outcome in /metrics', async () => {
    const { app, refund } = await withCharge()
    await refund('refund-1', { chargeId: 'ch_1', amountCents: 100 })
    await refund('refund-1', { chargeId: 'ch_1', amountCents: 100 })
    await refund('refund-2', { chargeId: 'ch_404' })

    const text = await (await app.request('/metrics')).text()
    const count = (outcome: string) =>
      new RegExp(`^gateway_refunds_total\\{outcome="${outcome}",service="gateway"\\} (\\d+)$`, 'm').exec(
        text,
      )?.[1]

    expect(['succeeded', 'replayed', 'charge_not_found', 'refund_exceeds_charge'].map(count)).toStrictEqual([
      '1',
      '1',
      '1',
      '0',
    ])
    expect(text).toMatch(/^gateway_charge_attempts_total\{outcome="succeeded",service="gateway"\} 1$/m)
  })
})
