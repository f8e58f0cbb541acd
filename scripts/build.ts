/**
 * `npm run build`: every service as a single-file executable in dist/bin/
 * (`bun build --compile`: minified, names kept, bytecode for a faster start;
 * the source map only with `--sourcemap` or BUILD_SOURCEMAP=1), plus the
 * multi-call `order-saga` binary.
 *
 *   bun scripts/build.ts [name ...] [--out DIR] [--no-bytecode] [--sourcemap] [--if-stale]
 *
 * Names default to $BUILD_ONLY (comma-separated; a Containerfile passes it),
 * else all. The binaries read only their environment: no .env, no bunfig.toml.
 */
import { spawnSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { parseArgs } from 'node:util'
import { handleHelp } from './lib/help.ts'
import { constants, gzipSync } from 'node:zlib'
import { DOCS_EMBEDDED_ENV, SWAGGER_UI_FILES } from '../shared/http/swagger-ui-files.ts'
import { CONSOLE_EMBEDDED_ENV, CONSOLE_PAGE_TYPES } from '../workers/console/page/assets.ts'
import { CONSOLE_PAGE_FILES } from '../workers/console/page/files.ts'

const ROOT = join(import.meta.dirname, '..')

export const BINARIES = {
  order: 'workers/order/main.ts',
  inventory: 'workers/inventory/main.ts',
  payment: 'workers/payment/main.ts',
  gateway: 'workers/gateway/main.ts',
  'order-status': 'workers/order/status-main.ts',
  analytics: 'workers/analytics/main.ts',
  console: 'workers/console/main.ts',
  'order-saga': 'workers/multi/main.ts',
} as const

export type BinaryName = keyof typeof BINARIES

/** Loaded by `shared/runtime/server.ts` on Node only. */
const NODE_ONLY_PACKAGE = '@hono/node-server'

/**
 * Loaded only for LOG_FORMAT=pretty (shared/observability/logger.ts): left out
 * of the binaries, which then log JSON and say why (pretty lines are for
 * `bun run` and `npm start`).
 */
const PRETTY_LOGS_PACKAGE = 'pino-pretty'

export interface BuildOptions {
  names?: readonly BinaryName[]
  outDir?: string
  bytecode?: boolean
  /** Embed the source map (default false: traces keep function names, not source lines). */
  sourcemap?: boolean
  /** Keep a binary that is newer than every source file. */
  ifStale?: boolean
}

export interface BuiltBinary {
  name: BinaryName
  path: string
  bytes: number
  /** Build time; 0 when a fresh binary was kept. */
  ms: number
}

/** The Bun that compiles: this process when it is Bun, else the pinned devDependency. */
export function bunPath(): string {
  return process.versions['bun'] === undefined ? join(ROOT, 'node_modules', '.bin', 'bun') : process.execPath
}

/** The bare Bun runtime every binary embeds (`bun.exe` of the pinned package). */
export function bunRuntimePath(): string {
  const pinned = join(ROOT, 'node_modules', 'bun', 'bin', 'bun.exe')
  return existsSync(pinned) ? pinned : process.execPath
}

export function buildBinaries({
  names = allNames(),
  outDir = join(ROOT, 'dist', 'bin'),
  bytecode = true,
  sourcemap = false,
  ifStale = false,
}: BuildOptions = {}): BuiltBinary[] {
  mkdirSync(outDir, { recursive: true })
  const newestSource = ifStale ? newestSourceMtime() : Infinity
  let docsDir: string | undefined
  try {
    return names.map((name) => {
      const path = join(outDir, name)
      if (existsSync(path) && statSync(path).mtimeMs > newestSource)
        return { name, path, bytes: statSync(path).size, ms: 0 }
      const started = performance.now()
      const args = [...compileArgs({ bytecode, sourcemap }), BINARIES[name], '--outfile', path]
      // Every service serves `/docs`: Swagger UI's files go in gzipped (shared/http/swagger-ui-assets.ts).
      docsDir ??= gzippedDocsFiles()
      args.push(...docsArgs(docsDir))
      // The console's page likewise, where the console is (workers/console/page/assets.ts).
      if (name === 'console' || name === 'order-saga') args.push(...consolePageArgs(docsDir))
      const run = spawnSync(bunPath(), ['build', ...args], { cwd: ROOT, encoding: 'utf8' })
      if (run.status !== 0)
        throw new Error(
          `bun build ${args.join(' ')} failed (${run.status ?? run.signal}):\n${run.stdout}${run.stderr}`,
        )
      // An embedded source map needs no copy beside the binary.
      rmSync(`${path}.map`, { force: true })
      return { name, path, bytes: statSync(path).size, ms: performance.now() - started }
    })
  } finally {
    if (docsDir !== undefined) rmSync(docsDir, { recursive: true, force: true })
  }
}

/** The `bun build` flags of every binary, before its entry and `--outfile`. */
export function compileArgs({ bytecode = true, sourcemap = false } = {}): string[] {
  return [
    '--compile',
    '--minify',
    '--keep-names',
    ...(sourcemap ? ['--sourcemap'] : []),
    ...(bytecode ? ['--bytecode', '--format=esm'] : []),
    ...resolutionArgs(),
    '--no-compile-autoload-dotenv',
    '--no-compile-autoload-bunfig',
  ]
}

/** What goes into a binary's JavaScript (also for weighing it without compiling: bench/lib/builds.ts). */
export function resolutionArgs(): string[] {
  return [
    // Packages' ESM builds where their `exports` name them only under the
    // bundlers' `module` condition (OpenTelemetry): the CommonJS builds pull
    // in every semantic-conventions constant (128 KiB of JS, 0.3 MB of binary).
    '--conditions=module',
    // Node's HTTP server adapter: imported only when running on Node, never
    // inside a Bun binary (bundled, its node:http and node:http2 imports are
    // evaluated at start-up and cost ~2.5 MiB of idle RSS and 0.8 MB).
    `--external=${NODE_ONLY_PACKAGE}`,
    `--external=${PRETTY_LOGS_PACKAGE}`,
  ]
}

/** The define that leaves Swagger UI's text out of a binary that embeds its files gzipped. */
export const DOCS_DEFINE = `--define=process.env.${DOCS_EMBEDDED_ENV}="gzip"`

/** Flags that embed the docs files gzipped (from `gzippedDocsFiles`) and drop their text import. */
export function docsArgs(dir: string): string[] {
  return [DOCS_DEFINE, ...Object.keys(SWAGGER_UI_FILES).map((file) => `--asset=${join(dir, `${file}.gz`)}`)]
}

/** The define that leaves the console page's text out of a binary that embeds its files gzipped. */
export const CONSOLE_PAGE_DEFINE = `--define=process.env.${CONSOLE_EMBEDDED_ENV}="gzip"`

/** Flags that embed the console page's files gzipped (from `gzippedDocsFiles`) and drop their text import. */
export function consolePageArgs(dir: string): string[] {
  return [
    CONSOLE_PAGE_DEFINE,
    ...Object.keys(CONSOLE_PAGE_TYPES).map((file) => `--asset=${join(dir, `${file}.gz`)}`),
  ]
}

/** Swagger UI's files and the console page's, gzipped (level 9) into a new temporary folder, returned. */
export function gzippedDocsFiles(): string {
  const dir = mkdtempSync(join(tmpdir(), 'order-saga-docs-'))
  const gzip = (text: Buffer | string) => gzipSync(text, { level: constants.Z_BEST_COMPRESSION })
  const dist = join(ROOT, 'node_modules', 'swagger-ui-dist')
  for (const file of Object.keys(SWAGGER_UI_FILES))
    writeFileSync(join(dir, `${file}.gz`), gzip(readFileSync(join(dist, file))))
  for (const [file, { body }] of Object.entries(CONSOLE_PAGE_FILES))
    writeFileSync(join(dir, `${file}.gz`), gzip(body))
  return dir
}

/** Whether every named binary exists and is newer than every source file. */
export function binariesFresh(
  names: readonly BinaryName[] = allNames(),
  outDir = join(ROOT, 'dist', 'bin'),
): boolean {
  const newest = newestSourceMtime()
  return names.every((name) => {
    const path = join(outDir, name)
    return existsSync(path) && statSync(path).mtimeMs > newest
  })
}

const MB = 1e6
const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`
/** Relative to the working folder when inside it, else absolute. */
const shown = (path: string): string => {
  const rel = relative(process.cwd(), path)
  return rel === '' || rel.startsWith('..') ? path : rel
}

/** One line per binary: size, what it adds to the bare Bun runtime, build time. */
export function sizeReport(
  built: readonly BuiltBinary[],
  runtimeBytes = statSync(bunRuntimePath()).size,
): string {
  const rows = built.map((b) => [
    shown(b.path),
    `${mb(b.bytes)} (${b.bytes} B)`,
    `+${mb(b.bytes - runtimeBytes)}`,
    b.ms === 0 ? 'kept (fresh)' : `${(b.ms / 1000).toFixed(1)} s`,
  ])
  const table = [['binary', 'size', 'over the Bun runtime', 'build'], ...rows]
  const widths = table[0]?.map((_, i) => Math.max(...table.map((r) => r[i]?.length ?? 0))) ?? []
  const total = built.reduce((sum, b) => sum + b.bytes, 0)
  return [
    `bare Bun runtime: ${mb(runtimeBytes)} (${runtimeBytes} B, ${shown(bunRuntimePath())})`,
    ...table.map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    ),
    `total: ${mb(total)} in ${built.length} files`,
  ].join('\n')
}

function allNames(): BinaryName[] {
  return Object.keys(BINARIES) as BinaryName[]
}

function isBinaryName(name: string): name is BinaryName {
  return Object.hasOwn(BINARIES, name)
}

/** Newest modification time of anything that goes into a binary. */
function newestSourceMtime(): number {
  let newest = 0
  const visit = (path: string): void => {
    const stat = statSync(path, { throwIfNoEntry: false })
    if (stat === undefined) return
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) visit(join(path, entry))
    } else if (!path.endsWith('.test.ts')) {
      newest = Math.max(newest, stat.mtimeMs)
    }
  }
  for (const input of [
    'workers',
    'shared',
    'schemas',
    'package.json',
    'package-lock.json',
    'bunfig.toml',
    'scripts/build.ts',
  ]) {
    visit(join(ROOT, input))
  }
  return newest
}

const USAGE = `usage: npm run build [-- <binary>...] [--out <dir>] [--no-bytecode] [--sourcemap] [--if-stale]
  single-file Bun binaries (default: all) into dist/bin
  --out <dir>      where they go
  --no-bytecode    without bytecode (smaller, slower to start)
  --sourcemap      with the source map embedded (also BUILD_SOURCEMAP=1)
  --if-stale       only when a source is newer than the binary
environment: BUILD_ONLY (comma-separated names when none are given), BUILD_SOURCEMAP`

function cli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): void {
  handleHelp(argv, USAGE, { takesArguments: true })
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        out: { type: 'string' },
        'no-bytecode': { type: 'boolean' },
        sourcemap: { type: 'boolean' },
        'if-stale': { type: 'boolean' },
      },
    })
  } catch (error) {
    process.stderr.write(`build: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`)
    process.exit(2)
  }
  const { values, positionals } = parsed
  const requested =
    positionals.length > 0 ? positionals : (env['BUILD_ONLY'] ?? '').split(',').filter(Boolean)
  const unknown = requested.filter((n) => !isBinaryName(n))
  if (unknown.length > 0) {
    process.stderr.write(`unknown binary: ${unknown.join(', ')} (known: ${allNames().join(', ')})\n`)
    process.exit(2)
  }
  const built = buildBinaries({
    names: requested.length > 0 ? requested.filter(isBinaryName) : allNames(),
    outDir: values.out ?? join(ROOT, 'dist', 'bin'),
    bytecode: values['no-bytecode'] !== true,
    sourcemap: values.sourcemap === true || env['BUILD_SOURCEMAP'] === '1',
    ifStale: values['if-stale'] === true,
  })
  process.stdout.write(`${sizeReport(built)}\n`)
}

if (import.meta.main) cli(process.argv.slice(2), process.env)
