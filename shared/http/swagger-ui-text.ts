/**
 * Swagger UI's files (swagger-ui-dist) as text, read into the program when it
 * is built or loaded (`with { type: 'text' }`: Bun, Deno;
 * `scripts/text-imports.ts` does it for the Node build and vitest). About
 * 1.9 MB: loaded by `swagger-ui-assets.ts` on the first request for a docs
 * file, and left out of the compiled binaries, which carry the files gzipped.
 */
import bundle from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'text' }
import css from 'swagger-ui-dist/swagger-ui.css' with { type: 'text' }
import type { DocsAssets } from './api-docs.ts'
import { SWAGGER_UI_FILES } from './swagger-ui-files.ts'

export const swaggerUiText: DocsAssets = {
  'swagger-ui.css': { contentType: SWAGGER_UI_FILES['swagger-ui.css'], body: css },
  'swagger-ui-bundle.js': { contentType: SWAGGER_UI_FILES['swagger-ui-bundle.js'], body: bundle },
}
