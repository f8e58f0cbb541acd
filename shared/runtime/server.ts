/**
 * The one place that knows how Bun, Deno and Node serve HTTP and deliver
 * signals (Deno and Bun both offer `process` signals).
 * Entry files (`main.ts`) use it; nothing else branches on the runtime.
 */
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
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> }
}

export function serveHttp({ fetch, port, hostname }: ServeOptions): Promise<HttpServer> {
  const deno = (globalThis as { Deno?: DenoServe }).Deno
  if (deno !== undefined) {
    return new Promise((resolve) => {
      const onListen = (addr: { port: number }) =>
        resolve({ port: addr.port, close: () => server.shutdown() })
      const server = deno.serve({ port, hostname, onListen }, fetch)
    })
  }
  if (typeof Bun !== 'undefined') {
    const server = Bun.serve({ fetch, port, hostname, idleTimeout: 30 })
    return Promise.resolve({
      port: server.port ?? port,
      close: () => server.stop(false),
    })
  }
  // Loaded only on Node: node:http costs a Bun process ~8 MiB of RSS.
  return import('@hono/node-server').then(
    ({ serve }) =>
      new Promise((resolve, reject) => {
        const server = serve({ fetch, port, hostname }, (info) => {
          resolve({
            port: info.port,
            close: () => new Promise<void>((done) => server.close(() => done())),
          })
        })
        server.once('error', reject)
      }),
  )
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
