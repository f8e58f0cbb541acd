/*
 * A server span per HTTP request, the child of the request's W3C
 * `traceparent` (or the root of a new trace). The handler finds its context
 * in `c.var.trace` and hands it on (events, outgoing calls, log lines).
 * Probes and scrapes (`/health`, `/ready`, `/metrics`) get none.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import { readTraceHeaders, type TraceContext } from '../observability/trace-context.ts'
import type { Tracer } from '../observability/tracing.ts'

export interface TraceEnv {
  Variables: { trace: TraceContext | undefined }
}

/** The request's span as `traceRequests` set it (undefined without that middleware), for log lines. */
export function traceOf(c: Context): TraceContext | undefined {
  return (c as unknown as Context<TraceEnv>).get('trace')
}

const UNTRACED = new Set(['/health', '/ready', '/metrics'])

export function traceRequests(tracer: Tracer): MiddlewareHandler<TraceEnv> {
  return async (c, next) => {
    if (UNTRACED.has(c.req.path)) {
      c.set('trace', undefined)
      return next()
    }
    const method = c.req.method
    const parent = readTraceHeaders((name) => c.req.header(name))
    if (!tracer.recording) {
      // Nothing is recorded (no exporter): only the context goes on, to the
      // events, outgoing calls and log lines; no span to name or end.
      c.set('trace', tracer.startSpan(method, { kind: 'server', parent }).context)
      return next()
    }
    const span = tracer.startSpan(method, {
      kind: 'server',
      parent,
      attributes: { 'http.request.method': method, 'url.path': c.req.path },
    })
    c.set('trace', span.context)
    try {
      await next()
    } finally {
      const route = routePath(c, -1)
      const status = c.res.status
      if (route !== '' && route !== '*' && route !== '/*') {
        span.updateName(`${method} ${route}`)
        span.setAttributes({ 'http.route': route })
      }
      span.setAttributes({ 'http.response.status_code': status })
      // c.error is the error onError answered for (a 500 among others).
      if (status >= 500) span.fail(c.error ?? new Error(`answered ${status}`))
      span.end()
    }
  }
}
