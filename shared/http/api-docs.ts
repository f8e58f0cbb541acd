/**
 * `GET /openapi.json` and, where the page's files are given, `GET /docs`
 * (Swagger UI, served by the service itself: it works with no internet) and
 * `GET /docs/{asset}`. No key on any of them. Mounted by the services on
 * Bun, Node and Deno; the Cloudflare Worker mounts none of it (its bundle
 * has no room for the document's builder, let alone the page's files).
 */
import { Hono } from 'hono'
import { html } from 'hono/html'
import type { OpenApiDocument } from './openapi.ts'

export interface DocsAsset {
  readonly contentType: string
  readonly body: string
}

/** The docs page's files by name (`swagger-ui-assets.ts`). */
export type DocsAssets = Readonly<Record<string, DocsAsset>>

export interface ApiDocsOptions {
  /** The service's document; the builder keeps it once built. */
  document: () => OpenApiDocument
  /** Absent: no `/docs`. */
  assets?: DocsAssets | undefined
}

/** The routes, to mount with `app.route('/', createApiDocsRoutes(...))`. */
export function createApiDocsRoutes({ document, assets }: ApiDocsOptions): Hono {
  const app = new Hono()
  app.get('/openapi.json', (c) => c.json(document()))
  if (assets === undefined) return app
  app.get('/docs', (c) => c.html(docsPage(document())))
  app.get('/docs/:asset', (c) => {
    const name = c.req.param('asset')
    const asset = Object.hasOwn(assets, name) ? assets[name] : undefined
    if (asset === undefined) return c.json({ error: 'not_found', message: `no docs asset ${name}` }, 404)
    return c.body(asset.body, 200, {
      'Content-Type': asset.contentType,
      'Cache-Control': 'public, max-age=3600',
    })
  })
  return app
}

/**
 * Relative links, so the page works behind a path prefix: from `/docs` they
 * resolve to `/openapi.json` and `/docs/<asset>`. Without script, the routes
 * are listed plainly.
 */
function docsPage(doc: OpenApiDocument) {
  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, summary: op.summary })),
  )
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${doc.info.title} ${doc.info.version}: API docs</title>
        <link rel="stylesheet" href="docs/swagger-ui.css" />
      </head>
      <body>
        <noscript>
          <h1>${doc.info.title} ${doc.info.version}</h1>
          <p>The document: <a href="openapi.json">openapi.json</a></p>
          <ul>
            ${operations.map((op) => html`<li><code>${op.method} ${op.path}</code>: ${op.summary}</li>`)}
          </ul>
        </noscript>
        <div id="swagger-ui"></div>
        <script src="docs/swagger-ui-bundle.js"></script>
        <script>
          window.ui = SwaggerUIBundle({
            url: 'openapi.json',
            dom_id: '#swagger-ui',
            deepLinking: true,
            validatorUrl: null,
          })
        </script>
      </body>
    </html>`
}
