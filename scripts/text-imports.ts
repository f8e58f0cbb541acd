/**
 * `import text from 'pkg/file' with { type: 'text' }` for the builds that do
 * not honour the attribute on a package file: Bun.build with
 * `packages: 'external'` (scripts/build-node.ts) leaves the import to Node,
 * and vitest hands it to Node's loader. Bun, `bun build --compile` and Deno
 * need nothing. Only files of packages matched here are read as text.
 */
import { readFileSync } from 'node:fs'
import type { BunPlugin } from 'bun'
import type { Plugin } from 'vitest/config'

/** Package files imported as text (shared/http/swagger-ui-text.ts). */
export const TEXT_IMPORTS = /^swagger-ui-dist\//

const SUFFIX = '?text-import'

/** For vitest: the file becomes `export default "<its text>"`; list it in `server.deps.inline`. */
export function viteTextImports(): Plugin {
  return {
    name: 'text-imports',
    enforce: 'pre',
    async resolveId(source, importer) {
      if (!TEXT_IMPORTS.test(source)) return undefined
      const resolved = await this.resolve(source, importer, { skipSelf: true })
      return resolved === null ? undefined : `${resolved.id}${SUFFIX}`
    },
    load(id) {
      if (!id.endsWith(SUFFIX)) return undefined
      return `export default ${JSON.stringify(readFileSync(id.slice(0, -SUFFIX.length), 'utf8'))}`
    },
  }
}

/** Ids `viteTextImports` makes: vitest must run them, not hand them to Node. */
export const VITE_TEXT_IMPORT_IDS = /\?text-import$/

/** For Bun.build: the file is bundled as a string instead of left external. */
export function bunTextImports(): BunPlugin {
  return {
    name: 'text-imports',
    setup(build) {
      build.onResolve({ filter: TEXT_IMPORTS }, (args) => ({
        path: Bun.resolveSync(args.path, args.resolveDir),
        namespace: 'text-import',
      }))
      build.onLoad({ filter: /.*/, namespace: 'text-import' }, async (args) => ({
        contents: await Bun.file(args.path).text(),
        loader: 'text',
      }))
    },
  }
}
