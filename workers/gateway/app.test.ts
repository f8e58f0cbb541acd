import { describe, expect, it } from 'vitest'
import { waitFor } from '../../test/harness/wait-for.ts'
import { abortableSleep } from './abortable-sleep.ts'
import { authorized, chargeBody, chargeView, createGate, createTestApp } from './app-fixture.ts'

const charge1 = chargeView()

describe('POST /charges', () => {
  it('creates a charge and replays it for the same key without charging twice', async () => {
    const { charge, listCharges } = createTestApp()

    const first = await charge('key-1', chargeBody())
    const replay = await charge('key-1', chargeBody())

    expect(first.status).toBe(201)
    expect(await first.json()).toStrictEqual(charge1)
    expect(first.headers.get('Idempotent-Replayed')).toBeNull()
    expect(replay.status).toBe(201)
    expect(await replay.json()).toStrictEqual(charge1)
    expect(replay.headers.get('Idempotent-Replayed')).toBe('true')
    expect(await listCharges('order-1')).toStrictEqual({ charges: [charge1] })
  })

  it('declines tok_declined with 402 and replays the decline for the same key', async () => {
    const { charge, listCharges } = createTestApp()

    const first = await charge('key-1', chargeBody({ token: 'tok_declined' }))
    const replay = await charge('key-1', chargeBody({ token: 'tok_declined' }))

    expect([first.status, await first.json()]).toStrictEqual([402, { error: 'card_declined' }])
    expect([replay.status, await replay.json()]).toStrictEqual([402, { error: 'card_declined' }])
    expect(replay.headers.get('Idempotent-Replayed')).toBe('true')
    expect(await listCharges()).toStrictEqual({ charges: [] })
  })

  it.each([
    ['tok_visa', 'card_declined'],
    ['card_4242', 'invalid_token'],
  ])('declines the unknown token %s as %s', async (token, error) => {
    const { charge } = createTestApp()
    const response = await charge('key-1', chargeBody({ token }))
    expect([response.status, await response.json()]).toStrictEqual([402, { error }])
  })

  it('answers 503 to tok_flaky for the first two attempts of an order, then charges it', async () => {
    const { charge, listCharges } = createTestApp({ config: { flakyFailures: 2 } })
    const body = chargeBody({ token: 'tok_flaky' })

    const statuses = []
    for (let attempt = 0; attempt < 3; attempt++) statuses.push((await charge('key-1', body)).status)
    const otherOrder = await charge('key-2', chargeBody({ token: 'tok_flaky', orderId: 'order-2' }))

    expect(statuses).toStrictEqual([503, 503, 201])
    expect([otherOrder.status, await otherOrder.json()]).toStrictEqual([503, { error: 'unavailable' }])
    expect(await listCharges('order-1')).toStrictEqual({ charges: [charge1] })
  })

  it('rejects the same key with a different body with 409 and keeps the first charge', async () => {
    const { charge, listCharges } = createTestApp()
    await charge('key-1', chargeBody())

    const reused = await charge('key-1', chargeBody({ amountCents: 1 }))

    expect([reused.status, await reused.json()]).toStrictEqual([409, { error: 'idempotency_key_reused' }])
    expect(await listCharges()).toStrictEqual({ charges: [charge1] })
  })

  it('answers 409 idempotency_key_in_use while the same request is still being decided', async () => {
    const gate = createGate()
    const { charge } = createTestApp({ sleep: gate.sleep })

    const slow = charge('key-1', chargeBody({ token: 'tok_slow' }))
    await waitFor(() => gate.calls.length === 1, { timeoutMs: 5_000, message: 'the slow wait' })
    const concurrent = await charge('key-1', chargeBody({ token: 'tok_slow' }))
    gate.open()

    expect([concurrent.status, await concurrent.json()]).toStrictEqual([
      409,
      { error: 'idempotency_key_in_use' },
    ])
    expect((await slow).status).toBe(201)
  })

  it.each(['[]', '[{"amountCents":100}]', '"x"', 'null'])(
    'rejects the body %s, which is not an object, with 400 and charges nothing',
    async (body) => {
      const { charge, listCharges } = createTestApp()
      const response = await charge('key-1', body)
      expect([response.status, await response.json()]).toStrictEqual([
        400,
        {
          error: 'invalid_request',
          message: '(body): must be a JSON object',
          issues: [{ path: '', message: 'must be a JSON object' }],
        },
      ])
      expect(await listCharges()).toStrictEqual({ charges: [] })
    },
  )

  it('rejects an invalid body with 400 listing every issue', async () => {
    const { charge, listCharges } = createTestApp()

    const response = await charge('key-1', { amountCents: 0, currency: 'eur', token: '', extra: true })

    expect(response.status).toBe(400)
    expect(await response.json()).toStrictEqual({
      error: 'invalid_request',
      message:
        'amountCents: must be >= 1; currency: must be a 3-letter uppercase currency code; ' +
        'token: must not be empty; orderId: is required; extra: is not a known field',
      issues: [
        { path: 'amountCents', message: 'must be >= 1' },
        { path: 'currency', message: 'must be a 3-letter uppercase currency code' },
        { path: 'token', message: 'must not be empty' },
        { path: 'orderId', message: 'is required' },
        { path: 'extra', message: 'is not a known field' },
      ],
    })
    expect(await listCharges()).toStrictEqual({ charges: [] })
  })

  it.each(['text/plain', 'application/x-www-form-urlencoded', undefined])(
    'answers a charge or refund sent as %s 415, and charges nothing',
    async (type) => {
      const { app, listCharges } = createTestApp()
      for (const [path, body] of [
        ['/charges', chargeBody()],
        ['/refunds', { chargeId: 'ch_1', amountCents: 100 }],
      ] as const) {
        const response = await app.request(path, {
          method: 'POST',
          headers: {
            ...authorized,
            'Idempotency-Key': 'key-415',
            ...(type === undefined ? {} : { 'Content-Type': type }),
          },
          body: JSON.stringify(body),
        })
        expect([response.status, await response.json()], path).toStrictEqual([
          415,
          { error: 'unsupported_media_type', message: 'send application/json' },
        ])
      }
      expect(await listCharges()).toStrictEqual({ charges: [] })
    },
  )

  it('rejects malformed JSON with 400', async () => {
    const { charge } = createTestApp()
    const response = await charge('key-1', '{"amountCents": 5,')
    expect([response.status, await response.json()]).toStrictEqual([
      400,
      { error: 'malformed_json', message: 'the body is not valid JSON' },
    ])
  })

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['with a space', 'key 1'],
    ['256 characters long', 'k'.repeat(256)],
    // A path segment every URL parser resolves away: GET /charge-attempts/{key} could not find it.
    ['a dot', '.'],
    ['two dots', '..'],
  ])('rejects an idempotency key that is %s with 400', async (_, key) => {
    const { charge } = createTestApp()
    const response = await charge(key, chargeBody())
    expect([response.status, await response.json()]).toStrictEqual([
      400,
      {
        error: 'missing_idempotency_key',
        message: 'send an Idempotency-Key of 1 to 255 visible ASCII characters (no spaces), not . or ..',
      },
    ])
  })

  it('logs each decision with the order id and outcome, never the token', async () => {
    const { charge, logs, lines } = createTestApp()
    await charge('key-1', chargeBody())
    await charge('key-2', chargeBody({ token: 'tok_declined' }))

    expect(lines.join('')).not.toContain('tok_')
    expect(logs().map(({ orderId, outcome }) => ({ orderId, outcome }))).toStrictEqual([
      { orderId: 'order-1', outcome: 'succeeded' },
      { orderId: 'order-1', outcome: 'declined' },
    ])
  })

  it("logs the caller's correlation id and trace with the order id on charge and refund lines, a new id when none is usable", async () => {
    const TRACE_ID = '0af7651916cd43dd8448eb211c80319c'
    const { app, logs } = createTestApp()
    const post = (path: string, key: string, body: unknown, correlationId?: string) =>
      app.request(path, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          ...authorized,
          'Idempotency-Key': key,
          ...(correlationId === undefined ? {} : { 'X-Correlation-ID': correlationId }),
          traceparent: `00-${TRACE_ID}-b7ad6b7169203331-01`,
        },
        body: JSON.stringify(body),
      })
    expect((await post('/charges', 'key-1', chargeBody(), 'corr-7')).status).toBe(201)
    expect((await post('/refunds', 'refund-1', { chargeId: 'ch_1' }, 'corr-7')).status).toBe(201)
    expect((await post('/charges', 'key-2', chargeBody({ orderId: 'order-2' }), 'has space')).status).toBe(
      201,
    )

    const [charged, refunded, minted] = logs()
    // The request's trace too (the payment worker sends its span as traceparent).
    const traced = { trace_id: TRACE_ID, span_id: expect.stringMatching(/^[0-9a-f]{16}$/) }
    expect(charged).toMatchObject({
      msg: 'charge attempt',
      orderId: 'order-1',
      correlationId: 'corr-7',
      ...traced,
    })
    expect(refunded).toMatchObject({
      msg: 'refund',
      orderId: 'order-1',
      correlationId: 'corr-7',
      chargeId: 'ch_1',
      ...traced,
    })
    expect(minted).toMatchObject({
      orderId: 'order-2',
      correlationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    })
  })
})

describe('POST /charges timing and faults', () => {
  it('answers tok_slow with the charge only after GATEWAY_SLOW_MS', async () => {
    const sleeps: number[] = []
    const sleep = (ms: number) => (sleeps.push(ms), Promise.resolve())
    const { charge } = createTestApp({ config: { slowMs: 7_000 }, sleep })

    const response = await charge('key-1', chargeBody({ token: 'tok_slow' }))

    expect(sleeps).toStrictEqual([7_000])
    expect([response.status, await response.json()]).toStrictEqual([201, charge1])
  })

  it('completes a tok_slow charge after its client went away, and nobody else can take the key meanwhile', async () => {
    const client = new AbortController()
    const gate = createGate()
    const { charge, read, logs } = createTestApp({ sleep: gate.sleep })

    const waiting = charge('key-1', chargeBody({ token: 'tok_slow' }), { signal: client.signal })
    await waitFor(() => gate.calls.length === 1, { timeoutMs: 2_000, message: 'the slow wait' })
    client.abort()
    const abandoned = await waiting
    const meanwhile = await charge('key-1', chargeBody({ token: 'tok_slow' }))
    const processing = await read('/charge-attempts/key-1')
    gate.open()
    const settled = await waitFor(
      async () => {
        const [status, body] = await read('/charge-attempts/key-1')
        return status === 200 && (body as { status: string }).status === 'succeeded' && body
      },
      { timeoutMs: 2_000, message: 'the attempt to settle' },
    )
    const retry = await charge('key-1', chargeBody({ token: 'tok_slow' }))

    expect(abandoned.status).toBe(499)
    expect([meanwhile.status, await meanwhile.json()]).toStrictEqual([
      409,
      { error: 'idempotency_key_in_use' },
    ])
    expect(processing).toStrictEqual([200, { idempotencyKey: 'key-1', status: 'processing' }])
    expect(settled).toStrictEqual({ idempotencyKey: 'key-1', status: 'succeeded', charge: charge1 })
    expect([retry.status, await retry.json()]).toStrictEqual([201, charge1])
    expect(retry.headers.get('Idempotent-Replayed')).toBe('true')
    expect(logs().map(({ outcome }) => outcome)).toStrictEqual([
      undefined, // the client went away; the attempt goes on
      'idempotency_key_in_use',
      'succeeded',
      'succeeded',
    ])
  })

  it('answers 503 to a waiting tok_slow charge on shutdown and records nothing', async () => {
    const shutdown = new AbortController()
    const { charge, listCharges } = createTestApp({ sleep: abortableSleep, shutdownSignal: shutdown.signal })

    const waiting = charge('key-1', chargeBody({ token: 'tok_slow' }))
    shutdown.abort()
    const response = await waiting

    expect([response.status, await response.json()]).toStrictEqual([503, { error: 'unavailable' }])
    expect(await listCharges()).toStrictEqual({ charges: [] })
  })

  it('answers 503 with probability GATEWAY_FAILURE_RATE and does not remember it', async () => {
    const draws = [0.29, 0.3]
    const random = () => draws.shift() ?? 1
    const { charge, listCharges } = createTestApp({ config: { failureRate: 0.3 }, random })

    const failed = await charge('key-1', chargeBody())
    const retried = await charge('key-1', chargeBody())

    expect([failed.status, await failed.json()]).toStrictEqual([503, { error: 'unavailable' }])
    expect(retried.status).toBe(201)
    expect(retried.headers.get('Idempotent-Replayed')).toBeNull()
    expect(await listCharges()).toStrictEqual({ charges: [charge1] })
  })

  it('adds GATEWAY_LATENCY_MS to every charge attempt, replays included', async () => {
    const sleeps: number[] = []
    const sleep = (ms: number) => (sleeps.push(ms), Promise.resolve())
    const { charge } = createTestApp({ config: { latencyMs: 250 }, sleep })

    await charge('key-1', chargeBody())
    await charge('key-1', chargeBody())

    expect(sleeps).toStrictEqual([250, 250])
  })
})

describe('GET /ready', () => {
  it('is 200 until a stop begins, then 503 so a balancer sends nothing more', async () => {
    const stop = new AbortController()
    const { app } = createTestApp({ shutdownSignal: stop.signal })
    const before = await app.request('/ready')
    expect([before.status, await before.json()]).toStrictEqual([200, { status: 'ready' }])
    stop.abort(new Error('received SIGTERM'))
    const after = await app.request('/ready')
    expect([after.status, await after.json()]).toStrictEqual([
      503,
      { status: 'not_ready', reason: 'shutting down' },
    ])
  })
})
