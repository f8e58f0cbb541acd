/*
 * Which tracer a Bun/Node/Deno service runs with, from the standard
 * OpenTelemetry variables (docs/configuration.md "Tracing"):
 *
 * - OTEL_EXPORTER_OTLP_ENDPOINT: base URL of an OTLP/HTTP collector; spans go
 *   to `<it>/v1/traces` as JSON. Unset (the default): nothing is recorded or
 *   exported, and `traceparent` is still propagated.
 * - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the full traces URL, instead.
 * - OTEL_EXPORTER_OTLP_HEADERS: `k=v,k2=v2` sent to the collector (or
 *   OTEL_EXPORTER_OTLP_HEADERS_FILE, a file holding it: often credentials).
 * - OTEL_BSP_SCHEDULE_DELAY: longest wait in ms before a batch is sent (5000).
 * - OTEL_SDK_DISABLED=true: off whatever else is set.
 */
import { ConfigError } from '../config/load-config.ts'
import { readSecretFiles } from '../config/secrets.ts'
import { shownUrl } from '../config/shown-url.ts'
import { createPropagatingTracer, type Tracer } from './tracing.ts'
import type { Logger } from './log.ts'

type Env = Readonly<Record<string, string | undefined>>

export interface TracingSettings {
  tracesUrl: string
  headers: Record<string, string>
  scheduleDelayMs: number
}

/** What `--help` says of the tracing variables (every service reads them). */
export const TRACING_HELP =
  'Traces: OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS (or _FILE), OTEL_BSP_SCHEDULE_DELAY, OTEL_SDK_DISABLED (off unless an endpoint is set; docs/configuration.md).'

const HEADERS = 'OTEL_EXPORTER_OTLP_HEADERS'
/** A header name (RFC 9110 token). */
const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
/** What a header value may not hold (tab is allowed). */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/

/** The export settings, `undefined` when tracing is off; a {@link ConfigError} lists every bad value. */
export function tracingSettingsFromEnv(env: Env): TracingSettings | undefined {
  const disabled = env['OTEL_SDK_DISABLED']?.trim().toLowerCase() ?? ''
  if (disabled === 'true') return undefined
  const base = env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim() ?? ''
  const traces = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim() ?? ''
  // A bad header or delay is refused with no endpoint set too: it is a typo waiting for one.
  // Every problem is listed at once, a bad OTEL_SDK_DISABLED's with the others.
  const fromFile = readSecretFiles(env, [HEADERS])
  const problems: string[] = [...fromFile.problems]
  if (disabled !== '' && disabled !== 'false')
    problems.push(`OTEL_SDK_DISABLED: must be true or false, got ${JSON.stringify(disabled)}`)
  const tracesUrl = traces !== '' ? traces : `${base.replace(/\/+$/, '')}/v1/traces`
  const name = traces !== '' ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT'
  const on = base !== '' || traces !== ''
  if (on && (!/^https?:\/\/[^\s/]/.test(tracesUrl) || !URL.canParse(tracesUrl)))
    problems.push(`${name}: must be an http(s) URL, got ${JSON.stringify(shownUrl(traces || base))}`)
  // Header values are often a collector's credentials: a problem names the entry, never its text.
  const headers: Record<string, string> = {}
  const decoded = (text: string): string | undefined => {
    try {
      return decodeURIComponent(text.trim())
    } catch {
      return undefined
    }
  }
  ;(fromFile.out[HEADERS] ?? '').split(',').forEach((pair, index) => {
    if (pair.trim() === '') return
    const where = `${HEADERS}: entry ${index + 1}`
    const at = pair.indexOf('=')
    const key = at <= 0 ? undefined : decoded(pair.slice(0, at))
    const value = at <= 0 ? undefined : decoded(pair.slice(at + 1))
    if (at <= 0) problems.push(`${where} is not key=value`)
    else if (key === undefined || value === undefined) problems.push(`${where} has a bad percent-encoding`)
    // What fetch would refuse at every export: found at start instead.
    else if (!HTTP_TOKEN.test(key)) problems.push(`${where}: the name is not an HTTP header name`)
    else if (CONTROL.test(value)) problems.push(`${where}: the value holds a control character`)
    else headers[key] = value
  })
  const delay = env['OTEL_BSP_SCHEDULE_DELAY']?.trim() ?? ''
  // Digits only, as every other integer setting: `1e3` and `0x10` are not what was meant.
  const scheduleDelayMs = delay === '' ? 5_000 : /^\d{1,5}$/.test(delay) ? Number(delay) : Number.NaN
  if (!Number.isInteger(scheduleDelayMs) || scheduleDelayMs < 1 || scheduleDelayMs > 60_000)
    problems.push(
      `OTEL_BSP_SCHEDULE_DELAY: must be an integer from 1 to 60000 (ms), got ${JSON.stringify(delay)}`,
    )
  if (problems.length > 0) throw new ConfigError(problems)
  return on ? { tracesUrl, headers, scheduleDelayMs } : undefined
}

/** The tracing settings' problems (none when valid or off), to report with a service's own in one pass. */
export function tracingProblems(env: Env): readonly string[] {
  try {
    tracingSettingsFromEnv(env)
    return []
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
}

/**
 * The OpenTelemetry tracer when an endpoint is set (its SDK imported only
 * then), else the propagating one.
 */
export async function createTracerFromEnv(
  service: string,
  version: string,
  env: Env,
  logger?: Pick<Logger, 'warn'>,
): Promise<Tracer> {
  const settings = tracingSettingsFromEnv(env)
  if (settings === undefined) return createPropagatingTracer()
  const { createOtelTracer } = await import('./otel-tracer.ts')
  return createOtelTracer({
    service,
    version,
    ...settings,
    ...(logger === undefined ? {} : { onExportFailure: exportFailureWarning(logger) }),
  })
}

/**
 * What a failed export says, and nothing more: the exporter's error carries
 * the collector's answer (`data`), which may echo the request's headers
 * (OTEL_EXPORTER_OTLP_HEADERS: an API key) and be of any size.
 */
function exportErrorFields(error: Error | undefined): Record<string, unknown> {
  if (error === undefined) return {}
  const code = (error as { code?: unknown }).code
  return {
    error: error.message.slice(0, 200),
    ...(typeof code === 'number' || typeof code === 'string' ? { status: code } : {}),
  }
}

/**
 * A warning when spans could not be sent, at most one per `everyMs`, with the
 * spans lost since the last one: a collector that is down for an hour is
 * said once a minute, not once a batch.
 */
export function exportFailureWarning(
  logger: Pick<Logger, 'warn'>,
  everyMs = 60_000,
  now: () => number = Date.now,
): (spans: number, error: Error | undefined) => void {
  let lost = 0
  let last = -Infinity
  return (spans, error) => {
    lost += spans
    if (now() - last < everyMs) return
    last = now()
    logger.warn({ ...exportErrorFields(error), spansLost: lost }, 'trace export failed; spans lost')
    lost = 0
  }
}
