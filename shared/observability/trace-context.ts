/*
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent`
 * and `tracestate` headers read from and written to HTTP requests and NATS
 * messages. Web-standard APIs only and no dependency, so the edge intake
 * (Workers) propagates a trace at almost no bundle cost; the OpenTelemetry
 * SDK (otel-tracer.ts) records spans where it is switched on.
 */

/** One span's place in a trace, as carried between processes. */
export interface TraceContext {
  /** 32 lowercase hex digits, not all zero. */
  traceId: string
  /** 16 lowercase hex digits, not all zero: the span that is the parent of what comes next. */
  spanId: string
  /** The `sampled` flag: whoever receives this should record its spans. */
  sampled: boolean
  /** `tracestate` as received (vendor data), passed on unchanged. */
  traceState?: string
}

export const TRACE_HEADERS = { parent: 'traceparent', state: 'tracestate' } as const

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/
const ZERO_TRACE = '0'.repeat(32)
const ZERO_SPAN = '0'.repeat(16)
/** Printable ASCII without control characters: safe in a NATS header. */
const TRACESTATE = /^[\x20-\x7E]{1,512}$/

/**
 * A `traceparent` (and its `tracestate`) read, or `undefined` when absent or
 * invalid (then the receiver starts a new trace, as the spec asks). Version
 * `ff` is invalid; a version 00 header has nothing after the flags; a higher
 * version may carry more fields, which are ignored.
 */
export function parseTraceparent(
  value: string | null | undefined,
  traceState?: string | null,
): TraceContext | undefined {
  if (value === null || value === undefined) return undefined
  const match = TRACEPARENT.exec(value.trim())
  if (match === null) return undefined
  const [, version = '', traceId = '', spanId = '', flags = '', rest] = match
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined
  const state = traceState?.trim()
  return {
    traceId,
    spanId,
    sampled: (Number.parseInt(flags, 16) & 1) === 1,
    ...(state !== undefined && TRACESTATE.test(state) ? { traceState: state } : {}),
  }
}

/** The `traceparent` header of a context (version 00). */
export function toTraceparent({ traceId, spanId, sampled }: TraceContext): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`
}

/** Reads the context from headers (HTTP `Headers`, NATS `MsgHdrs`, anything with a getter). */
export function readTraceHeaders(get: (name: string) => string | null | undefined): TraceContext | undefined {
  return parseTraceparent(get(TRACE_HEADERS.parent), get(TRACE_HEADERS.state))
}

/** Writes `traceparent`, and `tracestate` when there is one. */
export function writeTraceHeaders(context: TraceContext, set: (name: string, value: string) => void): void {
  set(TRACE_HEADERS.parent, toTraceparent(context))
  if (context.traceState !== undefined) set(TRACE_HEADERS.state, context.traceState)
}

const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))
/**
 * Random bytes for ids, drawn from the system's generator 4 KiB at a time
 * (one `getRandomValues` per 170 requests, not two per request); each byte
 * is used once.
 */
const pool = new Uint8Array(4096)
let drawn = pool.length

function randomHex(bytes: number): string {
  if (drawn + bytes > pool.length) {
    crypto.getRandomValues(pool)
    drawn = 0
  }
  let out = ''
  for (let i = drawn; i < drawn + bytes; i++) out += HEX_BYTE[pool[i] ?? 0]
  drawn += bytes
  return out
}

export function newTraceId(): string {
  const id = randomHex(16)
  return id === ZERO_TRACE ? newTraceId() : id
}

export function newSpanId(): string {
  const id = randomHex(8)
  return id === ZERO_SPAN ? newSpanId() : id
}

/** `trace_id` and `span_id` for a log line (none without a context). */
export function traceLogFields(context: TraceContext | undefined): { trace_id?: string; span_id?: string } {
  return context === undefined ? {} : { trace_id: context.traceId, span_id: context.spanId }
}
