import { describe, expect, it } from 'vitest'
import { setClientAddress } from '../../shared/http/client-address.ts'
import type { OpenApiDocument } from '../../shared/http/openapi.ts'
import { DOCS_ASSETS } from '../../shared/http/openapi-routes.ts'
import {
  createContract,
  exerciseBodyTimeout,
  documentedRoutes,
  openApiProblems,
  servedRoutes,
} from '../../test/support/openapi-contract.ts'
import {
  authorized,
  chargeBody,
  createGate,
  createMemoryJournal,
  createTestApp,
  type FixtureOptions,
} from './app-fixture.ts'
import { waitFor } from '../../test/harness/wait-for.ts'
import { gatewayOpenApi } from './openapi.ts'

const MAX_BODY = 1024

describe('the gateway sandbox against its OpenAPI document', () => {
  const stored = createMemoryJournal()
  const { app } = createTestApp({ journal: stored.journal, config: { maxBodyBytes: MAX_BODY } })
  const document = gatewayOpenApi()
  const contract = createContract(document)
  type App = typeof app
  const send = (path: string, init?: RequestInit, on: App = app) => contract.request(on, path, init)
  const post = (path: string, key: string | undefined, body: unknown): RequestInit => ({
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      ...authorized,
      ...(key === undefined ? {} : { 'Idempotency-Key': key }),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const charge = (key: string | undefined, body: unknown, on: App = app) =>
    send('/charges', post('/charges', key, body), on)
  const refund = (key: string | undefined, body: unknown, on: App = app) =>
    send('/refunds', post('/refunds', key, body), on)
  const read = (path: string, on: App = app) => send(path, { headers: authorized }, on)
  const other = (options: FixtureOptions) =>
    createTestApp({ config: { maxBodyBytes: MAX_BODY }, ...options }).app

  it('serves a valid OpenAPI 3.1 document at /openapi.json', async () => {
    const served = (await (await send('/openapi.json')).json()) as OpenApiDocument
    expect(served).toStrictEqual(JSON.parse(JSON.stringify(document)))
    expect(await openApiProblems(served)).toStrictEqual([])
  })

  it('documents exactly the routes the app serves', () => {
    expect(servedRoutes(app)).toStrictEqual(documentedRoutes(document))
  })

  it('answers POST /charges and the charge reads as documented', async () => {
    expect((await charge('c-1', chargeBody())).status).toBe(201)
    const replay = await charge('c-1', chargeBody())
    expect([replay.status, replay.headers.get('Idempotent-Replayed')]).toStrictEqual([201, 'true'])
    expect((await charge('c-2', chargeBody({ token: 'tok_declined' }))).status).toBe(402)
    expect((await charge('c-2', chargeBody({ token: 'tok_declined' }))).status).toBe(402)
    expect((await charge(undefined, chargeBody())).status).toBe(400)
    expect((await charge('c-3', '{')).status).toBe(400)
    const asText = post('/charges', 'c-3', chargeBody())
    expect(
      (await send('/charges', { ...asText, headers: { ...asText.headers, 'Content-Type': 'text/plain' } }))
        .status,
    ).toBe(415)
    expect((await charge('c-3', chargeBody({ amountCents: 0 }))).status).toBe(400)
    expect((await charge('c-1', chargeBody({ amountCents: 1 }))).status).toBe(409)
    expect((await charge('c-4', chargeBody({ token: 'tok_error_after_charge' }))).status).toBe(500)
    stored.failWith(new Error('disk full'))
    expect((await charge('c-5', chargeBody())).status).toBe(500)
    stored.failWith(undefined)
    expect((await charge('c-6', chargeBody(), other({ config: { failureRate: 1 } }))).status).toBe(503)
    expect((await charge('c-7', 'x'.repeat(MAX_BODY + 1))).status).toBe(413)

    expect((await read('/charges')).status).toBe(200)
    expect((await read('/charges?orderId=order-1')).status).toBe(200)
    expect((await read('/charges?orderid=order-1')).status).toBe(400)
    expect((await read('/charges/ch_1')).status).toBe(200)
    expect((await read('/charges/ch_none')).status).toBe(404)
    expect((await read('/charge-attempts/c-1')).status).toBe(200)
    expect((await read('/charge-attempts/c-2')).status).toBe(200)
    expect((await read('/charge-attempts/none')).status).toBe(404)
  })

  it('answers 409 and `processing` while a charge attempt is still being decided', async () => {
    const gate = createGate()
    const slowApp = other({ sleep: gate.sleep })
    const slow = charge('s-1', chargeBody({ token: 'tok_slow' }), slowApp)
    // The second request must find the first one inside its slow wait.
    await waitFor(() => gate.calls.length === 1, { timeoutMs: 5_000, message: 'the slow wait' })
    expect((await charge('s-1', chargeBody({ token: 'tok_slow' }), slowApp)).status).toBe(409)
    const attempt = await read('/charge-attempts/s-1', slowApp)
    expect(await attempt.json()).toStrictEqual({ idempotencyKey: 's-1', status: 'processing' })
    gate.open()
    expect((await slow).status).toBe(201)
  })

  it('answers POST /refunds and GET /refunds as documented', async () => {
    expect((await charge('r-0', chargeBody())).status).toBe(201)
    const attempt = (await (await read('/charge-attempts/r-0')).json()) as { charge: { id: string } }
    const chargeId = attempt.charge.id
    expect((await refund('r-1', { chargeId, amountCents: 100 })).status).toBe(201)
    const replay = await refund('r-1', { chargeId, amountCents: 100 })
    expect([replay.status, replay.headers.get('Idempotent-Replayed')]).toStrictEqual([201, 'true'])
    expect((await refund(undefined, { chargeId })).status).toBe(400)
    expect((await refund('r-2', '{')).status).toBe(400)
    const asText = post('/refunds', 'r-2', { chargeId })
    expect(
      (await send('/refunds', { ...asText, headers: { ...asText.headers, 'Content-Type': 'text/plain' } }))
        .status,
    ).toBe(415)
    expect((await refund('r-2', { chargeId, extra: 1 })).status).toBe(400)
    expect((await refund('r-2', { chargeId: 'ch_none' })).status).toBe(404)
    expect((await refund('r-1', { chargeId, amountCents: 200 })).status).toBe(409)
    expect((await refund('r-2', { chargeId, amountCents: 1_000_000 })).status).toBe(422)
    stored.failWith(new Error('disk full'))
    expect((await refund('r-3', { chargeId, amountCents: 1 })).status).toBe(500)
    stored.failWith(undefined)
    expect((await refund('r-4', { chargeId }, other({ config: { failureRate: 1 } }))).status).toBe(503)
    expect((await read('/refunds')).status).toBe(200)
    expect((await read(`/refunds?chargeId=${chargeId}`)).status).toBe(200)
    expect((await read(`/refunds?chargeId=${chargeId}&chargeId=x`)).status).toBe(400)
    expect((await read(`/charges/${chargeId}`)).status).toBe(200)
  })

  it('answers 401 without the secret key and 429 once an address used up its failures', async () => {
    const limited = other({ config: { rateLimitPerSecond: 0.001, rateLimitBurst: 1 } })
    let address = 0
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        if ((operation['security'] as unknown[]).length === 0) continue
        address += 1
        const concrete = path.replace('{id}', 'ch_1').replace('{idempotencyKey}', 'c-1')
        const statuses = []
        for (const _ of [1, 2]) {
          const request = new Request(`http://localhost${concrete}`, { method: method.toUpperCase() })
          setClientAddress(request, `192.0.2.${address}`)
          const response = await limited.request(request)
          await contract.check(request, response)
          statuses.push(response.status)
        }
        expect(statuses, `${method} ${path}`).toStrictEqual([401, 429])
      }
    }
  })

  it('answers the shared routes as documented, and 413 on every route', async () => {
    for (const path of ['/', '/health', '/ready', '/metrics', '/docs'])
      expect((await send(path)).status, path).toBe(200)
    const stopping = new AbortController()
    stopping.abort(new Error('stopping'))
    expect((await send('/ready', undefined, other({ shutdownSignal: stopping.signal }))).status).toBe(503)
    for (const asset of DOCS_ASSETS) expect((await send(`/docs/${asset}`)).status).toBe(200)
    expect((await send('/docs/index.html')).status).toBe(404)
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of Object.keys(item)) {
        const concrete = path
          .replace('{id}', 'ch_1')
          .replace('{idempotencyKey}', 'c-1')
          .replace('{asset}', 'swagger-ui.css')
        const init = { method, headers: { ...authorized, 'Content-Length': String(MAX_BODY + 1) } }
        expect((await send(concrete, init)).status, `${method} ${path}`).toBe(413)
      }
    }
  })

  it('answers 408 to a body that stops arriving, on every route that lists it', async () => {
    const statuses = await exerciseBodyTimeout(contract, app, document, {
      concrete: (path) => path,
      headers: { 'Content-Type': 'application/json', ...authorized, 'Idempotency-Key': 'stalled-408' },
    })
    expect(statuses).toStrictEqual({ 'POST /charges': 408, 'POST /refunds': 408 })
  })

  it('exercised every documented status of every route', () => {
    expect(contract.uncovered()).toStrictEqual([])
  })
})
