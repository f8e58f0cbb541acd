/*
 * What the code needs from tracing: start a span as the child of a context
 * (from a request, a message, or another span) and hand its context on. Two
 * tracers satisfy it: `createPropagatingTracer` (here: no recording, no
 * export, only new span ids so logs and the next hop see one trace), the
 * default everywhere, and the OpenTelemetry one (otel-tracer.ts), chosen by
 * `createTracerFromEnv` when OTEL_EXPORTER_OTLP_ENDPOINT is set. Contexts
 * are passed explicitly (no AsyncLocalStorage), so the cost when tracing is
 * off is a header read, two random ids and a header write per hop.
 */
import { newSpanId, newTraceId, type TraceContext } from './trace-context.ts'

/** OpenTelemetry's span kinds. */
export type SpanKind = 'server' | 'client' | 'producer' | 'consumer' | 'internal'

export type SpanAttributes = Readonly<Record<string, string | number | boolean | undefined>>

export interface SpanOptions {
  kind: SpanKind
  /** The remote or local parent; without one the span starts a new trace. */
  parent?: TraceContext | undefined
  attributes?: SpanAttributes
}

export interface Span {
  /** This span's context: what its children and outgoing messages carry. */
  readonly context: TraceContext
  setAttributes(attributes: SpanAttributes): void
  /** Renames the span (an HTTP span learns its route after routing). */
  updateName(name: string): void
  /** Marks the span failed and records the error. */
  fail(error: unknown): void
  end(): void
}

export interface Tracer {
  /** True when spans are recorded and exported. */
  readonly recording: boolean
  startSpan(name: string, options: SpanOptions): Span
  /** Exports what is buffered and stops; a no-op when not recording. */
  shutdown(): Promise<void>
}

const noop = (): void => undefined

/**
 * Propagation only: every span gets a new span id under its parent's trace
 * (or a new sampled trace), nothing is recorded. A new trace is marked
 * sampled so services that do record (their own OTEL_EXPORTER_OTLP_ENDPOINT)
 * record the rest of it.
 */
export function createPropagatingTracer(): Tracer {
  return {
    recording: false,
    startSpan(_name, { parent }) {
      const context: TraceContext = {
        traceId: parent?.traceId ?? newTraceId(),
        spanId: newSpanId(),
        sampled: parent?.sampled ?? true,
        ...(parent?.traceState === undefined ? {} : { traceState: parent.traceState }),
      }
      return { context, setAttributes: noop, updateName: noop, fail: noop, end: noop }
    },
    shutdown: () => Promise.resolve(),
  }
}

/** Runs `work` inside a span that ends when it settles and is marked failed when it throws. */
export async function inSpan<T>(
  tracer: Tracer,
  name: string,
  options: SpanOptions,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const span = tracer.startSpan(name, options)
  try {
    return await work(span)
  } catch (error) {
    span.fail(error)
    throw error
  } finally {
    span.end()
  }
}
