/**
 * Where the console's page is served from, and how its files are loaded: as
 * text (`files.ts`) under `bun run`, Node and the tests; in a compiled binary
 * from its embedded files, gzipped by `bun scripts/build.ts` (`--asset`,
 * named `<file>.gz`), which also sets {@link CONSOLE_EMBEDDED_ENV} so that the
 * text import below is dead code there and left out: the page's ~33 KB of
 * text would otherwise be in the binary twice, as source and as bytecode.
 */
import type { DocsAssets } from '../../../shared/http/api-docs.ts'
import { embeddedGzipAssets } from '../../../shared/http/swagger-ui-assets.ts'

/** Set to `'gzip'` (`--define`) in the binaries that embed the page's files gzipped. */
export const CONSOLE_EMBEDDED_ENV = 'ORDER_SAGA_BUILD_CONSOLE_EMBEDDED'

export const CONSOLE_PAGE_TYPES = {
  'console.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
} as const

export type ConsolePageFile = keyof typeof CONSOLE_PAGE_TYPES

/** Each route of the page and the file it answers with. */
export const CONSOLE_PAGE_ROUTES: Readonly<Record<string, ConsolePageFile>> = {
  '/console': 'console.html',
  '/console/console.js': 'console.js',
  '/console/console.css': 'console.css',
}

/** Same-origin files and calls only: no inline script, no other host, no framing. */
export const CONSOLE_PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
}

/** The page's files by name (`ConsolePageFile`). */
export async function consolePageAssets(): Promise<DocsAssets> {
  if (process.env['ORDER_SAGA_BUILD_CONSOLE_EMBEDDED'] === 'gzip') {
    return embeddedGzipAssets(Bun.embeddedFiles, CONSOLE_PAGE_TYPES)
  } else {
    return (await import('./files.ts')).CONSOLE_PAGE_FILES
  }
}
