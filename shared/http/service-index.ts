import type { Handler } from 'hono'
import pkg from '../../package.json' with { type: 'json' }

/** The package version, bundled in at build time (the binary reads no file). */
export const VERSION: string = pkg.version

interface RouteList {
  readonly routes: readonly { method: string; path: string }[]
}

/**
 * `GET /`: which service answers, its version and its routes, read from the
 * app's own routing table when asked (so it cannot drift from the code).
 */
export function serviceIndex(service: string, app: RouteList): Handler {
  return (c) => {
    const routes = [
      ...new Set(
        app.routes.filter(({ method }) => method !== 'ALL').map(({ method, path }) => `${method} ${path}`),
      ),
    ]
    return c.json({ service, version: VERSION, routes })
  }
}
