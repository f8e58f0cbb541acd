/**
 * The page's three files as text (they are part of the program: nothing is
 * read from disk at run time, the page needs nothing from elsewhere). `bun
 * run`, Node and the tests serve them as they are; a compiled binary carries
 * them gzipped instead (`assets.ts`), and this module is left out of it.
 */
import { CONSOLE_HTML } from './html.ts'
import { SCRIPT_CORE } from './script-core.ts'
import { SCRIPT_PANELS } from './script-panels.ts'
import { CONSOLE_CSS } from './style.ts'
import { CONSOLE_PAGE_TYPES, type ConsolePageFile } from './assets.ts'

export const CONSOLE_SCRIPT = `(function () {\n'use strict';\n${SCRIPT_CORE}\n${SCRIPT_PANELS}\n})();\n`

/** The page's files by name, as text. */
export const CONSOLE_PAGE_FILES: Record<ConsolePageFile, { contentType: string; body: string }> = {
  'console.html': { contentType: CONSOLE_PAGE_TYPES['console.html'], body: CONSOLE_HTML },
  'console.js': { contentType: CONSOLE_PAGE_TYPES['console.js'], body: CONSOLE_SCRIPT },
  'console.css': { contentType: CONSOLE_PAGE_TYPES['console.css'], body: CONSOLE_CSS },
}
