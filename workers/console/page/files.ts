/**
 * The page's three files, served from memory (they are part of the program:
 * the compiled binaries need no file at run time, the page nothing from
 * elsewhere), with a Content-Security-Policy that allows only them.
 */
import { CONSOLE_HTML } from './html.ts'
import { SCRIPT_CORE } from './script-core.ts'
import { SCRIPT_PANELS } from './script-panels.ts'
import { CONSOLE_CSS } from './style.ts'

export const CONSOLE_SCRIPT = `(function () {\n'use strict';\n${SCRIPT_CORE}\n${SCRIPT_PANELS}\n})();\n`

export const CONSOLE_FILES: Record<string, { contentType: string; body: string }> = {
  '/console': { contentType: 'text/html; charset=utf-8', body: CONSOLE_HTML },
  '/console/console.js': { contentType: 'text/javascript; charset=utf-8', body: CONSOLE_SCRIPT },
  '/console/console.css': { contentType: 'text/css; charset=utf-8', body: CONSOLE_CSS },
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
