/**
 * The one place that knows how Bun, Deno and Node serve HTTP and deliver
 * signals (Deno and Bun both offer `process` signals).
 * Entry files (`main.ts`) use it; nothing else branches on the runtime.
 *
 * Each request's peer address is recorded for per-client limits
 * (shared/http/client-address.ts). A client that goes away mid-body makes
 * the body read reject (Bun: `AbortError: The connection was closed.`, Node:
 * `Error: aborted` ECONNRESET) and aborts `request.signal` on both: the
 * app's one `onError` answers it (shared/http/errors.ts), never as a 500.
 */
import { setClientAddress } from '../http/client-address.ts'
import { SECURITY_HEADERS } from '../http/security-headers.ts'

export interface HttpServer {
  /** The port actually bound (useful with port 0). */
  port: number
  /** Stops accepting connections; in-flight requests may finish. */
  close(): Promise<void>
}

export interface ServeOptions {
  fetch: (request: Request) => Response | Promise<Response>
  port: number
  hostname: string
}

/** The part of Deno's namespace used here (no Deno types in this project). */
interface DenoServe {
  serve(
    options: { port: number; hostname: string; onListen: (addr: { port: number }) => void },
    handler: (request: Request, info: { remoteAddr?: { hostname?: string } }) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> }
}

/**
 * One `Host` header that makes a URL, or 400 (RFC 9112, 3.2). Bun and Deno
 * hand over the URL the header makes, valid or not: a relative one without
 * it (Bun, HTTP/1.0), which the router would misread (part of the path taken
 * for the host), or one no URL parser takes (`Host: [`), which every
 * `new URL(request.url)` of a route would throw on, or one whose path is not
 * the request line's (`Host: x/console/api?`). Deno takes a request without
 * the header (its URL names localhost), Bun and Node one with two (`a, b`:
 * the first is used). So the header must be one host (a name, an IPv4 or a
 * bracketed IPv6 address) with an optional port.
 */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+;=%-]+)(?::\d{1,5})?$/

const badHost = (request: Request): Response | undefined => {
  const host = request.headers.get('host')
  return host !== null && HOST.test(host) && URL.canParse(request.url)
    ? undefined
    : Response.json(
        { error: 'bad_request', message: 'the request has no valid Host header' },
        { status: 400, headers: { Connection: 'close', ...SECURITY_HEADERS } },
      )
}

/**
 * Deno's server writes the `Connection` header itself (`close` after an
 * answer that leaves the body unread, as a 408 or 413 does): the app's own
 * would be sent a second time.
 */
function withoutConnectionHeader(response: Response): Response {
  if (!response.headers.has('Connection')) return response
  const headers = new Headers(response.headers)
  headers.delete('Connection')
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
}

/**
 * What Deno 2.9 rejects a body read with when the client went away: `Http`
 * (`unexpected EOF while reading HTTP/1 body`, a reset connection) or
 * `BadResource` (`Cannot read body as underlying resource unavailable`).
 */
const CLIENT_GONE = new Set(['Http', 'BadResource'])

/**
 * The request with its signal aborted when its body read fails because the
 * client went away: Deno leaves the request's own signal as it was, where Bun
 * and Node abort it. The error handler then counts the request as 499, not
 * as an unhandled 500.
 */
function abortedWhenClientLeaves(request: Request): Request {
  if (request.body === null) return request
  const gone = new AbortController()
  const reader = request.body.getReader()
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read()
        if (done) controller.close()
        else controller.enqueue(value)
      } catch (error) {
        if (error instanceof Error && CLIENT_GONE.has(error.name)) gone.abort(error)
        controller.error(error)
      }
    },
    cancel: (reason) => reader.cancel(reason),
  })
  return new Request(request, {
    body,
    signal: AbortSignal.any([request.signal, gone.signal]),
    duplex: 'half',
  } as RequestInit)
}

/**
 * The request with `.` and `..` segments (`%2e` too) resolved in its URL, as
 * Bun and Node hand it over: Deno passes the request line's path as sent, so
 * `/./health` or `/x/../orders/<id>` would find no route (404 before any key
 * is checked) where the other runtimes answer the route.
 */
function withDotSegmentsResolved(request: Request): Request {
  if (!request.url.includes('/.') && !/%2e/i.test(request.url)) return request
  const href = new URL(request.url).href
  return href === request.url ? request : new Request(href, request)
}

export function serveHttp({ fetch, port, hostname }: ServeOptions): Promise<HttpServer> {
  const deno = (globalThis as { Deno?: DenoServe }).Deno
  if (deno !== undefined) {
    return new Promise((resolve) => {
      const onListen = (addr: { port: number }) =>
        resolve({ port: addr.port, close: () => server.shutdown() })
      const server = deno.serve({ port, hostname, onListen }, async (request, info) => {
        const refused = badHost(request)
        if (refused !== undefined) return withoutConnectionHeader(refused)
        const watched = abortedWhenClientLeaves(withDotSegmentsResolved(request))
        setClientAddress(watched, info.remoteAddr?.hostname)
        return withoutConnectionHeader(await fetch(watched))
      })
    })
  }
  if (typeof Bun !== 'undefined') {
    const server = Bun.serve({
      fetch: (request, bun) => {
        const refused = badHost(request)
        if (refused !== undefined) return refused
        setClientAddress(request, bun.requestIP(request)?.address)
        return fetch(request)
      },
      port,
      hostname,
      idleTimeout: 30,
    })
    return Promise.resolve({
      port: server.port ?? port,
      close: () => server.stop(false),
    })
  }
  // Loaded only on Node: node:http costs a Bun process ~8 MiB of RSS.
  return import('@hono/node-server').then(
    ({ serve }) =>
      new Promise((resolve, reject) => {
        const withAddress = (
          request: Request,
          env: { incoming: { socket: { remoteAddress?: string | undefined } } },
        ) => {
          const refused = badHost(request)
          if (refused !== undefined) return refused
          setClientAddress(request, env.incoming.socket.remoteAddress)
          return fetch(request)
        }
        const server = serve({ fetch: withAddress, port, hostname }, (info) => {
          resolve({
            port: info.port,
            close: () => new Promise<void>((done) => server.close(() => done())),
          })
        })
        server.once('error', reject)
      }),
  )
}

/** What a service that could not bind says (a host that does not resolve, a port in use): one line. */
export function listenFailure(host: string, port: number, error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error)
  return `cannot listen on ${host}:${port} (HOST, PORT): ${reason}`
}

/** Runs `shutdown` once on the first SIGTERM or SIGINT; a second signal exits at once. */
export function onShutdownSignal(shutdown: (signal: string) => Promise<void>): void {
  let stopping = false
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130)
    stopping = true
    shutdown(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGTERM', handler)
  process.on('SIGINT', handler)
}

export function exitWith(message: string, code = 1): never {
  process.stderr.write(`${message}\n`)
  process.exit(code)
}

/**
 * A service takes `healthcheck` alone, or nothing (its options, `--help` and
 * `--version`, are read before): anything else exits 1 naming it, rather
 * than a typo starting the service as if it were not there.
 */
export function refuseStrayArguments(name: string, argv: readonly string[]): void {
  const [first, second] = argv
  if (first === 'healthcheck') {
    if (second !== undefined) exitWith(`${name}: healthcheck takes no argument, got ${second} (try --help)`)
    return
  }
  if (first !== undefined)
    exitWith(`${name}: unknown ${first.startsWith('-') ? 'option' : 'argument'} ${first} (try --help)`)
}
