import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT_CONTEXT, trace, type TextMapGetter } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../config/load-config.ts'
import {
  newSpanId,
  newTraceId,
  parseTraceparent,
  readTraceHeaders,
  toTraceparent,
  traceLogFields,
  writeTraceHeaders,
} from './trace-context.ts'
import { tracingSettingsFromEnv } from './tracer-from-env.ts'
import { createPropagatingTracer } from './tracing.ts'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const SPAN = '00f067aa0ba902b7'

// The spec's examples and its invalid cases; OpenTelemetry's own propagator
// reads each the same way (an independent reader).
const cases: [string, string | undefined, boolean | undefined][] = [
  [`00-${TRACE}-${SPAN}-01`, 'sampled', true],
  [`00-${TRACE}-${SPAN}-00`, 'not sampled', false],
  [`00-${TRACE}-${SPAN}-09`, 'other flags, sampled bit set', true],
  [`01-${TRACE}-${SPAN}-01-what-comes-later`, 'a later version with more fields', true],
  [` 00-${TRACE}-${SPAN}-01 `, 'a blank on each side', true],
  [`ff-${TRACE}-${SPAN}-01`, 'version ff', undefined],
  [`00-${TRACE}-${SPAN}-01-extra`, 'version 00 with more fields', undefined],
  [`00-${'0'.repeat(32)}-${SPAN}-01`, 'zero trace id', undefined],
  [`00-${TRACE}-${'0'.repeat(16)}-01`, 'zero span id', undefined],
  [`00-${TRACE.toUpperCase()}-${SPAN}-01`, 'upper-case hex', undefined],
  [`00-${TRACE.slice(1)}-${SPAN}-01`, 'short trace id', undefined],
  ['', 'empty', undefined],
]

const getter: TextMapGetter<Record<string, string>> = {
  get: (carrier, key) => carrier[key],
  keys: (carrier) => Object.keys(carrier),
}

describe('W3C trace context', () => {
  it.each(cases)('reads %j (%s) as the spec says, like OpenTelemetry', (header, _, sampled) => {
    const ours = parseTraceparent(header)
    expect(ours?.sampled).toBe(sampled)
    const theirs = trace.getSpanContext(
      new W3CTraceContextPropagator().extract(ROOT_CONTEXT, { traceparent: header }, getter),
    )
    expect(ours === undefined).toBe(theirs === undefined)
    if (ours !== undefined)
      expect([ours.traceId, ours.spanId]).toStrictEqual([theirs?.traceId, theirs?.spanId])
  })

  it('writes what it reads, tracestate included, and drops a tracestate with control characters', () => {
    const headers = new Headers()
    const context = { traceId: TRACE, spanId: SPAN, sampled: true, traceState: 'congo=t61rcWkgMzE' }
    writeTraceHeaders(context, (name, value) => headers.set(name, value))
    expect(headers.get('traceparent')).toBe(`00-${TRACE}-${SPAN}-01`)
    expect(readTraceHeaders((name) => headers.get(name))).toStrictEqual(context)
    expect(parseTraceparent(toTraceparent(context), 'a=1\r\nInjected: x')).toStrictEqual({
      traceId: TRACE,
      spanId: SPAN,
      sampled: true,
    })
  })

  it('mints distinct ids across many draws of random bytes', () => {
    // 24 bytes a pair: 1,000 pairs draw the 4 KiB pool of random bytes ~6 times.
    const ids = Array.from({ length: 1_000 }, () => [newTraceId(), newSpanId()]).flat()
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids) expect(id).toMatch(/^(?:[0-9a-f]{16}){1,2}$/)
    // Every hex digit turns up: the bytes are used, not a constant.
    expect(new Set(ids.join('')).size).toBe(16)
  })

  it('mints ids of the right shape and gives log lines trace_id and span_id', () => {
    expect(newTraceId()).toMatch(/^[0-9a-f]{32}$/)
    expect(newSpanId()).toMatch(/^[0-9a-f]{16}$/)
    expect(newTraceId()).not.toBe(newTraceId())
    expect(traceLogFields({ traceId: TRACE, spanId: SPAN, sampled: true })).toStrictEqual({
      trace_id: TRACE,
      span_id: SPAN,
    })
    expect(traceLogFields(undefined)).toStrictEqual({})
  })
})

describe('the propagating tracer (tracing off)', () => {
  it('keeps the trace and its state, gives every span a new id, and starts sampled traces', () => {
    const tracer = createPropagatingTracer()
    const parent = { traceId: TRACE, spanId: SPAN, sampled: false, traceState: 'a=1' }
    const child = tracer.startSpan('x', { kind: 'consumer', parent }).context
    expect(child).toMatchObject({ traceId: TRACE, sampled: false, traceState: 'a=1' })
    expect(child.spanId).not.toBe(SPAN)
    const root = tracer.startSpan('y', { kind: 'server' }).context
    expect(root.sampled).toBe(true)
    expect(root.traceId).not.toBe(TRACE)
    expect(tracer.recording).toBe(false)
  })
})

describe('tracingSettingsFromEnv', () => {
  it('is off without an endpoint, or with OTEL_SDK_DISABLED=true', () => {
    expect(tracingSettingsFromEnv({})).toBeUndefined()
    expect(tracingSettingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toBeUndefined()
    expect(
      tracingSettingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }),
    ).toBeUndefined()
  })

  it('sends to <endpoint>/v1/traces, or the traces endpoint as given, with headers and delay', () => {
    expect(tracingSettingsFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toStrictEqual({
      tracesUrl: 'http://collector:4318/v1/traces',
      headers: {},
      scheduleDelayMs: 5000,
    })
    expect(
      tracingSettingsFromEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://c.example/otlp/traces',
        OTEL_EXPORTER_OTLP_HEADERS: 'api-key=s%20ecret, x=1',
        OTEL_BSP_SCHEDULE_DELAY: '250',
      }),
    ).toStrictEqual({
      tracesUrl: 'https://c.example/otlp/traces',
      headers: { 'api-key': 's ecret', x: '1' },
      scheduleDelayMs: 250,
    })
  })

  it('reports every bad value at once', () => {
    const bad = () =>
      tracingSettingsFromEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
        OTEL_EXPORTER_OTLP_HEADERS: 'novalue',
        OTEL_BSP_SCHEDULE_DELAY: 'soon',
      })
    expect(bad).toThrow(ConfigError)
    try {
      bad()
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(3)
    }
  })

  it.each([
    [{ OTEL_SDK_DISABLED: 'maybe' }, 'OTEL_SDK_DISABLED: must be true or false, got "maybe"'],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_BSP_SCHEDULE_DELAY: '1e3' },
      'OTEL_BSP_SCHEDULE_DELAY: must be an integer from 1 to 60000 (ms), got "1e3"',
    ],
    [
      { OTEL_BSP_SCHEDULE_DELAY: '-1' },
      'OTEL_BSP_SCHEDULE_DELAY: must be an integer from 1 to 60000 (ms), got "-1"',
    ],
    [{ OTEL_EXPORTER_OTLP_HEADERS: 'novalue' }, 'OTEL_EXPORTER_OTLP_HEADERS: entry 1 is not key=value'],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://u:secret@:bad' },
      'OTEL_EXPORTER_OTLP_ENDPOINT: must be an http(s) URL, got "http://***@:bad"',
    ],
  ])('refuses %j', (env, problem) => {
    expect(() => tracingSettingsFromEnv(env)).toThrow(new ConfigError([problem]))
  })

  it('lists a bad OTEL_SDK_DISABLED with the other problems, not alone', () => {
    expect(() =>
      tracingSettingsFromEnv({
        OTEL_SDK_DISABLED: 'maybe',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector',
        OTEL_BSP_SCHEDULE_DELAY: 'abc',
      }),
    ).toThrow(
      new ConfigError([
        'OTEL_SDK_DISABLED: must be true or false, got "maybe"',
        'OTEL_EXPORTER_OTLP_ENDPOINT: must be an http(s) URL, got "ftp://collector"',
        'OTEL_BSP_SCHEDULE_DELAY: must be an integer from 1 to 60000 (ms), got "abc"',
      ]),
    )
  })

  it('names a bad header entry without showing it, percent-encoding included', () => {
    let problems: readonly string[] = []
    try {
      tracingSettingsFromEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_HEADERS: 'x=1,justsecretnoequals,authorization=Bearer%ZZsecret',
      })
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error
      problems = error.problems
    }
    expect(problems).toStrictEqual([
      'OTEL_EXPORTER_OTLP_HEADERS: entry 2 is not key=value',
      'OTEL_EXPORTER_OTLP_HEADERS: entry 3 has a bad percent-encoding',
    ])
    expect(problems.join(' ')).not.toContain('secret')
  })

  it('refuses a header name fetch would refuse, or a value with a control character, at start', () => {
    const problemsOf = (headers: string): readonly string[] => {
      try {
        tracingSettingsFromEnv({
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
          OTEL_EXPORTER_OTLP_HEADERS: headers,
        })
        return []
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error
        return error.problems
      }
    }
    expect(problemsOf('api key=secret1,x-api-key=secret2%0Ay,x-ok=a%09b,x-nul=secret3%00')).toStrictEqual([
      'OTEL_EXPORTER_OTLP_HEADERS: entry 1: the name is not an HTTP header name',
      'OTEL_EXPORTER_OTLP_HEADERS: entry 2: the value holds a control character',
      'OTEL_EXPORTER_OTLP_HEADERS: entry 4: the value holds a control character',
    ])
    expect(problemsOf('x-api-key=abc,X_Custom.1~!=v')).toStrictEqual([])
  })

  it('reads OTEL_EXPORTER_OTLP_HEADERS_FILE as every secret file, never both', () => {
    const dir = mkdtempSync(join(tmpdir(), 'otlp-headers-'))
    try {
      const file = join(dir, 'headers')
      writeFileSync(file, 'authorization=Bearer%20k1\n')
      const base = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_HEADERS_FILE: file }
      expect(tracingSettingsFromEnv(base)?.headers).toStrictEqual({ authorization: 'Bearer k1' })
      expect(() => tracingSettingsFromEnv({ ...base, OTEL_EXPORTER_OTLP_HEADERS: 'a=b' })).toThrow(
        'OTEL_EXPORTER_OTLP_HEADERS: set either OTEL_EXPORTER_OTLP_HEADERS or OTEL_EXPORTER_OTLP_HEADERS_FILE',
      )
      expect(() =>
        tracingSettingsFromEnv({ ...base, OTEL_EXPORTER_OTLP_HEADERS_FILE: join(dir, 'missing') }),
      ).toThrow(`OTEL_EXPORTER_OTLP_HEADERS_FILE: cannot read ${join(dir, 'missing')} (ENOENT)`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
