/**
 * What tracing costs one delivery of the message loop (shared/nats/consumer.ts):
 * read `traceparent` from the message's headers, start the consumer span with
 * its attributes, the log fields, the outgoing event's headers carrying the
 * span, end the span. Three ways:
 *
 *   baseline     the headers of an outgoing event without any trace code
 *   off          the propagating tracer (no OTEL_EXPORTER_OTLP_ENDPOINT: the default)
 *   on           the OpenTelemetry tracer, batches sent as OTLP/HTTP JSON to a
 *                receiver in this process (test/support/otlp-receiver.ts)
 *
 *   bun bench/probes/tracing-overhead.ts [--ops 100000] [--rounds 5]
 *   (node works too: node --experimental-strip-types ...)
 *
 * Prints the median CPU time per delivery of each and the difference to the
 * baseline (CPU time of the process, which includes the exporter's work on
 * the same thread). A loaded machine still inflates every row: compare the
 * rows of one run, not runs. The SDK's batch queue holds 2048 spans and drops
 * the rest while an export is under way, so at this loop's rate most spans
 * are dropped; a real delivery (a KV write, a publish) is milliseconds.
 */
import { parseArgs } from 'node:util'
import { headers as createHeaders } from '@nats-io/nats-core'
import { SUBJECTS } from '../../schemas/subjects.ts'
import { toEvent, toEventHeaders, type OutgoingEvent } from '../../shared/nats/publish.ts'
import { createOtelTracer } from '../../shared/observability/otel-tracer.ts'
import { readTraceHeaders, traceLogFields } from '../../shared/observability/trace-context.ts'
import { createPropagatingTracer, type Tracer } from '../../shared/observability/tracing.ts'
import { startOtlpReceiver } from '../../test/support/otlp-receiver.ts'

const { values } = parseArgs({
  options: { ops: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '5' } },
})
const ops = Number(values.ops)
const rounds = Number(values.rounds)

const incoming = createHeaders()
incoming.set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
const event: OutgoingEvent = toEvent(SUBJECTS.paymentCompleted, {
  version: 1,
  orderId: '01890a5d-ac96-774b-bcce-b302099a8057',
  occurredAt: new Date().toISOString(),
  chargeId: 'ch_1',
  amountCents: 1250,
  currency: 'EUR',
})
let sink = 0

function baseline(): void {
  const h = toEventHeaders(event, { correlationId: 'c-1' })
  sink += h.keys().length
}

function traced(tracer: Tracer) {
  return (): void => {
    const span = tracer.startSpan('process inventory.reserved', {
      kind: 'consumer',
      parent: readTraceHeaders((name) => incoming.get(name)),
      attributes: {
        'messaging.system': 'nats',
        'messaging.destination.name': 'inventory.reserved',
        'messaging.consumer.group.name': 'payment',
        'messaging.nats.stream.sequence': 42,
        'messaging.nats.delivery_count': 1,
      },
    })
    span.setAttributes({ 'order.id': event.payload.orderId })
    const fields = traceLogFields(span.context)
    const h = toEventHeaders(event, { correlationId: 'c-1', trace: span.context })
    span.setAttributes({ 'messaging.nats.outcome': 'ack' })
    span.end()
    sink += h.keys().length + (fields.span_id?.length ?? 0)
  }
}

/** CPU time (user + system) per op: less swayed than wall time by other processes on the cores. */
function nsPerOp(work: () => void): number {
  const started = process.cpuUsage()
  for (let i = 0; i < ops; i++) work()
  const { user, system } = process.cpuUsage(started)
  return ((user + system) * 1e3) / ops
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0

await using receiver = await startOtlpReceiver()
const otel = createOtelTracer({
  service: 'bench',
  version: '0',
  tracesUrl: `${receiver.url}/v1/traces`,
  scheduleDelayMs: 200,
})
const variants: [string, () => void][] = [
  ['baseline (no trace code)', baseline],
  ['off (propagating tracer)', traced(createPropagatingTracer())],
  ['on (OpenTelemetry, OTLP/HTTP JSON)', traced(otel)],
]
const results = new Map<string, number[]>(variants.map(([name]) => [name, []]))
for (const [, work] of variants) nsPerOp(work) // warm-up
for (let r = 0; r < rounds; r++) for (const [name, work] of variants) results.get(name)?.push(nsPerOp(work))
await otel.shutdown()

const runtime =
  process.versions['bun'] === undefined ? `node ${process.version}` : `bun ${process.versions['bun']}`
console.log(`${runtime}, ${ops} deliveries x ${rounds} rounds, median CPU time per delivery:`)
const base = median(results.get(variants[0]?.[0] ?? '') ?? [])
for (const [name, times] of results) {
  const m = median(times)
  console.log(
    `  ${name.padEnd(36)} ${(m / 1000).toFixed(2).padStart(6)} µs   +${((m - base) / 1000).toFixed(2)} µs`,
  )
}
console.log(`  spans received by the OTLP receiver: ${receiver.spans.length} (${sink > 0 ? 'ok' : '-'})`)
