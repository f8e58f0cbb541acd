/**
 * Swagger UI's files (swagger-ui-dist), read into the program when it is
 * built or loaded (`with { type: 'text' }`: Bun, `bun build --compile`,
 * Deno; `scripts/text-imports.ts` does it for the Node build and vitest), so
 * the docs page needs neither the internet nor a file at run time. About
 * 1.9 MB: imported by the entries that serve `/docs`, never by the Worker.
 */
import bundle from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'text' }
import css from 'swagger-ui-dist/swagger-ui.css' with { type: 'text' }
import type { DocsAssets } from './api-docs.ts'

export const swaggerUiAssets: DocsAssets = {
  'swagger-ui.css': { contentType: 'text/css; charset=utf-8', body: css },
  'swagger-ui-bundle.js': { contentType: 'text/javascript; charset=utf-8', body: bundle },
}
