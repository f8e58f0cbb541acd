/**
 * Swagger UI's files for `/docs`, so the page needs neither the internet nor a
 * file beside the program. A compiled binary carries them gzipped as embedded
 * files (`bun scripts/build.ts`: 0.5 MB instead of 1.9 MB of source plus as
 * much again of bytecode); `bun run`, Node, Deno and vitest import them as
 * text (`swagger-ui-text.ts`). Either way they are loaded on the first request
 * for one, not at start-up.
 */
import type { DocsAssets } from './api-docs.ts'
import { SWAGGER_UI_FILES } from './swagger-ui-files.ts'

export class DocsAssetsMissingError extends Error {
  override readonly name = 'DocsAssetsMissingError'
}

/** The loader to give `createApiDocsRoutes` as `assets`. */
export async function swaggerUiAssets(): Promise<DocsAssets> {
  // Replaced by a constant in the binaries built with the files embedded, so
  // the text import below is left out of them (dead code), and only there.
  if (process.env['ORDER_SAGA_BUILD_DOCS_EMBEDDED'] === 'gzip') {
    return embeddedGzipAssets(Bun.embeddedFiles)
  } else {
    return (await import('./swagger-ui-text.ts')).swaggerUiText
  }
}

/** The gzipped files among a compiled binary's embedded files (`<file>.gz`): `wanted` (name -> content type), Swagger UI's by default. */
export async function embeddedGzipAssets(
  files: readonly (Blob & { name?: string })[],
  wanted: Readonly<Record<string, string>> = SWAGGER_UI_FILES,
): Promise<DocsAssets> {
  const assets: Record<string, DocsAssets[string]> = {}
  for (const [name, contentType] of Object.entries(wanted)) {
    const file = files.find((f) => f.name === `${name}.gz`)
    if (file === undefined)
      throw new DocsAssetsMissingError(
        `this binary was built without its file ${name}.gz (bun scripts/build.ts embeds it)`,
      )
    assets[name] = { contentType, gzip: new Uint8Array(await file.arrayBuffer()) }
  }
  return assets
}
