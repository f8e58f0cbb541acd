// One order, one trace: every worker a real process exporting OTLP/HTTP JSON
// to a receiver in this test, the projection as its own service; run by Bun
// from source and as the compiled multi-call binary (`bun build --compile`).
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildBinaries } from '../scripts/build.ts'
import {
  startOtlpReceiver,
  SPAN_KINDS,
  type OtlpReceiver,
  type ReceivedSpan,
} from './support/otlp-receiver.ts'
import { startSagaStack, type SagaStack } from './support/saga-stack.ts'
import { bunRun, type Command } from './support/worker-process.ts'
import { itKeepsTheMoneyInvariant } from './support/money.ts'

const multiCall: Command = (worker) => ({
  cmd: join(import.meta.dirname, '..', 'dist', 'bin', 'order-saga'),
  args: [worker],
})

const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c'
const CLIENT_SPAN = 'b7ad6b7169203331'

/** The one span of `service` named `name` (fails on none or several). */
function one(spans: readonly ReceivedSpan[], service: string, name: string): ReceivedSpan {
  const found = spans.filter((s) => s.service === service && s.name === name)
  expect(
    found.map((s) => `${s.service} ${s.name}`),
    `${service} ${name}`,
  ).toStrictEqual([`${service} ${name}`])
  return found[0] as ReceivedSpan
}

describe.each([
  ['bun run', bunRun],
  ['the compiled multi-call binary', multiCall],
] as const)('tracing across the saga, services on %s', (_, command) => {
  let receiver: OtlpReceiver
  let stack: SagaStack

  beforeAll(async () => {
    if (command === multiCall) buildBinaries({ names: ['order-saga'], ifStale: true })
    receiver = await startOtlpReceiver()
    const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' }
    stack = await startSagaStack({ workerEnv: otel, gatewayEnv: otel, projection: 'own-service', command })
  }, 120_000)

  afterAll(async () => {
    await stack?.dispose()
    await receiver?.close()
  })

  it('gives one order one trace: intake, inventory, payment, gateway and projection, each span under its parent', async () => {
    await stack.setStock('TRACE-1', 5, 700)
    const placed = await stack.placeOrder(
      { customerId: 'cust-trace', items: [{ sku: 'TRACE-1', quantity: 2 }], paymentToken: 'tok_ok' },
      { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, tracestate: 'vendor=opaque' },
    )
    expect(placed.status).toBe(202)
    expect((await stack.waitForFinal(placed.orderId)).status).toBe('confirmed')

    const inTrace = (spans: readonly ReceivedSpan[]) => spans.filter((s) => s.traceId === CLIENT_TRACE)
    const spans = inTrace(
      await receiver.waitForSpans((all) => {
        const names = new Set(inTrace(all).map((s) => `${s.service} ${s.name}`))
        return [
          'order POST /orders',
          'inventory process orders.created',
          'payment process inventory.reserved',
          'payment gateway charge',
          'gateway POST /charges',
          'order-status process payments.completed',
          'inventory process payments.completed',
        ].every((n) => names.has(n))
      }),
    )
    expect(receiver.rejected).toStrictEqual([])

    const intake = one(spans, 'order', 'POST /orders')
    expect(intake).toMatchObject({ parentSpanId: CLIENT_SPAN, kind: SPAN_KINDS.server })
    expect(intake.attributes).toMatchObject({ 'http.route': '/orders', 'http.response.status_code': 202 })

    const reserve = one(spans, 'inventory', 'process orders.created')
    expect(reserve).toMatchObject({ parentSpanId: intake.spanId, kind: SPAN_KINDS.consumer })
    expect(reserve.attributes).toMatchObject({
      'messaging.consumer.group.name': 'inventory',
      'messaging.destination.name': 'orders.created',
      'messaging.nats.delivery_count': 1,
      'order.id': placed.orderId,
    })
    const pay = one(spans, 'payment', 'process inventory.reserved')
    expect(pay.parentSpanId).toBe(reserve.spanId)
    const charge = one(spans, 'payment', 'gateway charge')
    expect(charge).toMatchObject({ parentSpanId: pay.spanId, kind: SPAN_KINDS.client })
    expect(charge.attributes['payment.outcome']).toBe('succeeded')
    const processor = one(spans, 'gateway', 'POST /charges')
    expect(processor).toMatchObject({ parentSpanId: charge.spanId, kind: SPAN_KINDS.server })

    // The projection sees every event, each under the span that published it.
    const projected = spans.filter((s) => s.service === 'order-status')
    const parentOf: Record<string, string> = {
      'process orders.created': intake.spanId,
      'process inventory.reserved': reserve.spanId,
      'process payments.completed': pay.spanId,
    }
    for (const [name, parent] of Object.entries(parentOf))
      expect(one(projected, 'order-status', name).parentSpanId, name).toBe(parent)
    // The sale is settled by inventory under the payment's span too.
    expect(one(spans, 'inventory', 'process payments.completed').parentSpanId).toBe(pay.spanId)

    // Every span of the trace hangs under a span of the trace or the client's.
    const ids = new Set([CLIENT_SPAN, ...spans.map((s) => s.spanId)])
    for (const s of spans) expect(ids.has(s.parentSpanId), `${s.service} ${s.name}`).toBe(true)
    for (const s of spans) expect(s.endNs >= s.startNs).toBe(true)
  })

  it('puts trace_id and span_id on the log lines of a delivery, matching its span', async () => {
    await stack.setStock('TRACE-2', 5, 100)
    const placed = await stack.placeOrder({
      customerId: 'cust-trace',
      items: [{ sku: 'TRACE-2', quantity: 1 }],
      paymentToken: 'tok_ok',
    })
    await stack.waitForFinal(placed.orderId)
    const line = stack.inventories[0]?.handle
      .lines()
      .find((l) => l.includes(placed.orderId) && l.includes('"msg":"stock reserved"'))
    expect(line).toBeDefined()
    const { trace_id: traceId, span_id: spanId } = JSON.parse(line ?? '{}') as Record<string, string>
    const spans = await receiver.waitForSpans(
      (all) =>
        all.some((s) => s.spanId === spanId) &&
        all.some((s) => s.traceId === traceId && s.name === 'POST /orders'),
    )
    expect(spans.find((s) => s.spanId === spanId)).toMatchObject({
      traceId,
      service: 'inventory',
      name: 'process orders.created',
    })
    // A request without traceparent starts a trace at the intake.
    const intake = spans.find((s) => s.traceId === traceId && s.name === 'POST /orders')
    expect(intake?.parentSpanId).toBe('')
  })

  itKeepsTheMoneyInvariant(() => stack)
})
