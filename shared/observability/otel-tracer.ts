/*
 * The tracer that records: OpenTelemetry's trace SDK, spans batched and sent
 * as OTLP/HTTP JSON to `<endpoint>/v1/traces`. Loaded only when an endpoint
 * is configured (tracer-from-env.ts imports this file dynamically), so a
 * service without one never evaluates the SDK. No global registration, no
 * context manager: parents are passed explicitly (tracing.ts).
 */
import {
  ROOT_CONTEXT,
  SpanKind as OtelSpanKind,
  SpanStatusCode,
  TraceFlags,
  createTraceState,
  trace,
  type Attributes,
  type Context,
} from '@opentelemetry/api'
import { ExportResultCode } from '@opentelemetry/core'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace'
import type { TraceContext } from './trace-context.ts'
import type { Span, SpanAttributes, SpanKind, Tracer } from './tracing.ts'

export interface OtelTracerOptions {
  service: string
  version: string
  /** Where spans go: the full `/v1/traces` URL. */
  tracesUrl: string
  /** Extra request headers for the collector (OTEL_EXPORTER_OTLP_HEADERS). */
  headers?: Record<string, string>
  /** Longest wait before a batch is sent (OTEL_BSP_SCHEDULE_DELAY, default 5000 ms). */
  scheduleDelayMs?: number
  /** Told of every batch the collector did not take (unreachable, refused): those spans are lost. */
  onExportFailure?: (spans: number, error: Error | undefined) => void
}

const KINDS: Record<SpanKind, OtelSpanKind> = {
  server: OtelSpanKind.SERVER,
  client: OtelSpanKind.CLIENT,
  producer: OtelSpanKind.PRODUCER,
  consumer: OtelSpanKind.CONSUMER,
  internal: OtelSpanKind.INTERNAL,
}

function toAttributes(attributes: SpanAttributes | undefined): Attributes {
  const out: Attributes = {}
  for (const [key, value] of Object.entries(attributes ?? {})) if (value !== undefined) out[key] = value
  return out
}

function parentContext(parent: TraceContext | undefined): Context {
  if (parent === undefined) return ROOT_CONTEXT
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
    ...(parent.traceState === undefined ? {} : { traceState: createTraceState(parent.traceState) }),
  })
}

export function createOtelTracer({
  service,
  version,
  tracesUrl,
  headers = {},
  scheduleDelayMs = 5_000,
  onExportFailure,
}: OtelTracerOptions): Tracer {
  const otlp = new OTLPTraceExporter({ url: tracesUrl, headers })
  // The OTLP exporter fails silently (OpenTelemetry's diag logger is not set): say it.
  const exporter: SpanExporter = {
    export(spans, done) {
      otlp.export(spans, (result) => {
        if (result.code !== ExportResultCode.SUCCESS) onExportFailure?.(spans.length, result.error)
        done(result)
      })
    },
    shutdown: () => otlp.shutdown(),
    forceFlush: () => otlp.forceFlush(),
  }
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'service.version': version }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: scheduleDelayMs })],
  })
  const tracer = provider.getTracer('order-saga', version)

  return {
    recording: true,
    startSpan(name, { kind, parent, attributes }): Span {
      const span = tracer.startSpan(
        name,
        { kind: KINDS[kind], attributes: toAttributes(attributes) },
        parentContext(parent),
      )
      const own = span.spanContext()
      const context: TraceContext = {
        traceId: own.traceId,
        spanId: own.spanId,
        sampled: (Number(own.traceFlags) & 1) === 1,
        ...(parent?.traceState === undefined ? {} : { traceState: parent.traceState }),
      }
      return {
        context,
        setAttributes: (more) => void span.setAttributes(toAttributes(more)),
        updateName: (next) => void span.updateName(next),
        fail(error) {
          const message = error instanceof Error ? error.message : String(error)
          span.setStatus({ code: SpanStatusCode.ERROR, message })
          if (error instanceof Error) span.recordException(error)
        },
        end: () => span.end(),
      }
    },
    shutdown: () => provider.shutdown(),
  }
}
