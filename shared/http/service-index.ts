import type { Handler } from 'hono'

/**
 * The package version (package.json's `version`; shared/http/service-index.test.ts
 * fails when they differ). Written here rather than imported: a bundle would
 * carry the whole package.json, 1 KB of the Worker's 100 KB budget.
 */
export const VERSION = '0.2.0'

interface RouteList {
  readonly routes: readonly { method: string; path: string }[]
}

/**
 * `GET /`: which service answers, its version and its routes, read from the
 * app's own routing table when asked (so it cannot drift from the code).
 */
export function serviceIndex(
  service: string,
  app: RouteList,
  /** More fields after the routes (e.g. the servers a service reads). */
  extra: Readonly<Record<string, unknown>> = {},
): Handler {
  return (c) => {
    const routes = [
      ...new Set(
        app.routes.filter(({ method }) => method !== 'ALL').map(({ method, path }) => `${method} ${path}`),
      ),
    ]
    return c.json({ service, version: VERSION, routes, ...extra })
  }
}
