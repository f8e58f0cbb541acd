/** The docs page's files (swagger-ui-dist) and their content types. */
export const SWAGGER_UI_FILES = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
} as const

export type SwaggerUiFile = keyof typeof SWAGGER_UI_FILES

/**
 * What `bun scripts/build.ts` sets (`--define`) in the binaries that embed the
 * page's files gzipped (`--asset`, named `<file>.gz`): `'gzip'`. Unset
 * everywhere else.
 */
export const DOCS_EMBEDDED_ENV = 'ORDER_SAGA_BUILD_DOCS_EMBEDDED'
