/**
 * `GET /openapi.json` and, where the page's files are given, `GET /docs`
 * (Swagger UI, served by the service itself: it works with no internet) and
 * `GET /docs/{asset}`. No key on any of them. Mounted by the services on
 * Bun, Node and Deno; the Cloudflare Worker mounts none of it (its bundle
 * has no room for the document's builder, let alone the page's files).
 */
import { Hono, type Context } from 'hono'
import { html } from 'hono/html'
import type { OpenApiDocument } from './openapi.ts'

/** A docs file: its text, or its bytes gzipped (sent as they are to a client that takes gzip). */
export type DocsAsset =
  | { readonly contentType: string; readonly body: string }
  | { readonly contentType: string; readonly gzip: Uint8Array<ArrayBuffer> }

/** The docs page's files by name (`swagger-ui-assets.ts`). */
export type DocsAssets = Readonly<Record<string, DocsAsset>>

export interface ApiDocsOptions {
  /** The service's document; the builder keeps it once built. */
  document: () => OpenApiDocument
  /**
   * The page's files, or how to load them (called on the first request for
   * one; a failed load is tried again on the next). Absent: no `/docs`.
   */
  assets?: DocsAssets | (() => Promise<DocsAssets>) | undefined
}

/** The routes, to mount with `app.route('/', createApiDocsRoutes(...))`. */
export function createApiDocsRoutes({ document, assets }: ApiDocsOptions): Hono {
  const app = new Hono()
  app.get('/openapi.json', (c) => c.json(document()))
  if (assets === undefined) return app
  // The page runs only its own files: a script on this origin (the console's,
  // which keeps its key in session storage) is what is at stake.
  app.get('/docs', (c) => c.html(docsPage(document()), 200, { 'Content-Security-Policy': DOCS_CSP }))
  const files = assetFiles(assets)
  app.get('/docs/:asset', async (c) => {
    const name = c.req.param('asset')
    if (name === INIT_SCRIPT)
      return c.body(INIT_JS, 200, {
        'Content-Type': 'text/javascript; charset=utf-8',
        'Cache-Control': 'public, max-age=3600',
      })
    const loaded = await files.all()
    const asset = Object.hasOwn(loaded, name) ? loaded[name] : undefined
    if (asset === undefined) return c.json({ error: 'not_found', message: `no docs asset ${name}` }, 404)
    return assetResponse(c, files, name, asset, { 'Cache-Control': 'public, max-age=3600' })
  })
  return app
}

/**
 * A file's answer: its text, or its gzipped bytes as they are to a client
 * that takes gzip and gunzipped (once) to one that does not.
 */
export async function assetResponse(
  c: Context,
  files: AssetFiles,
  name: string,
  asset: DocsAsset,
  headers: Record<string, string>,
): Promise<Response> {
  const typed = { ...headers, 'Content-Type': asset.contentType }
  if ('body' in asset) return c.body(asset.body, 200, typed)
  const vary = { ...typed, Vary: 'Accept-Encoding' }
  if (acceptsGzip(c.req.header('Accept-Encoding')))
    return c.body(asset.gzip, 200, { ...vary, 'Content-Encoding': 'gzip' })
  return c.body(await files.gunzipped(name, asset.gzip), 200, vary)
}

/** The page's own script, a file like the others so that no inline script need be allowed. */
const INIT_SCRIPT = 'swagger-init.js'
const INIT_JS = `window.ui = SwaggerUIBundle({
  url: 'openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
})
`

/** Scripts and styles from the service only (Swagger UI sets inline styles); no framing. */
const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

export type AssetFiles = ReturnType<typeof assetFiles>

/** The files, loaded once (a failed load is retried), and the gunzipped copies made on demand. */
export function assetFiles(assets: DocsAssets | (() => Promise<DocsAssets>)) {
  let loading: Promise<DocsAssets> | undefined
  const plain = new Map<string, Promise<Uint8Array<ArrayBuffer>>>()
  return {
    all(): Promise<DocsAssets> {
      if (typeof assets !== 'function') return Promise.resolve(assets)
      loading ??= assets().catch((error: unknown) => {
        loading = undefined
        throw error
      })
      return loading
    },
    gunzipped(name: string, gzip: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
      let bytes = plain.get(name)
      if (bytes === undefined) {
        bytes = gunzip(gzip)
        plain.set(name, bytes)
      }
      return bytes
    },
  }
}

async function gunzip(gzip: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([gzip]).stream().pipeThrough(new DecompressionStream('gzip'))
  return new Uint8Array(await new Response(stream).arrayBuffer())
}

/** Whether an Accept-Encoding header takes gzip (listed, or `*`, without `q=0`). */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false
  let star: boolean | undefined
  for (const part of header.split(',')) {
    const [coding = '', ...params] = part.trim().toLowerCase().split(';')
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const refused = q !== undefined && Number(q.slice(2)) === 0
    if (coding === 'gzip' || coding === 'x-gzip') return !refused
    if (coding === '*') star = !refused
  }
  return star ?? false
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
        <link rel="icon" href="data:," />
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
        <script src="docs/${INIT_SCRIPT}"></script>
      </body>
    </html>`
}
