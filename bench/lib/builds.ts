// What the bench runs and weighs: the workers compiled the way the project
// builds them (`npm run build`'s script, fresh, into a temp dir), a plain
// `bun build --compile --minify` for comparison, Node bundles of the load
// tools and the Express peer, and the per-worker JavaScript bundles.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { BINARIES, CONSOLE_PAGE_DEFINE, DOCS_DEFINE, resolutionArgs } from '../../scripts/build.ts'

export const ROOT = join(import.meta.dirname, '..', '..')
export const BUN = join(ROOT, 'node_modules', '.bin', 'bun')
export const BUN_RUNTIME = join(ROOT, 'node_modules', 'bun', 'bin', 'bun.exe')
/** The saga's services: what the end-to-end stack runs. */
export const WORKERS = ['order', 'order-status', 'inventory', 'payment', 'gateway'] as const
export type WorkerName = (typeof WORKERS)[number]
/** Compose's readers beside the saga: weighed and measured idle with the workers, not in the saga's stack. */
export const READERS = ['analytics', 'console'] as const
export type ServiceName = WorkerName | (typeof READERS)[number]
/** Each service's entry file, as the project's build names it. */
export const WORKER_ENTRY: Record<ServiceName, string> = BINARIES

function bun(args: readonly string[]): string {
  return execFileSync(BUN, args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

export interface CompiledWorkers {
  /** How they were built, for the report. */
  how: string
  paths: Record<WorkerName, string>
}

/** The project's own build (scripts/build.ts, as `npm run build`) into `outDir`; a plain compile when it has none. */
export function compileProjectWorkers(outDir: string): CompiledWorkers {
  mkdirSync(outDir, { recursive: true })
  const paths = Object.fromEntries(WORKERS.map((w) => [w, join(outDir, w)])) as Record<WorkerName, string>
  if (existsSync(join(ROOT, 'scripts', 'build.ts'))) {
    bun(['scripts/build.ts', ...WORKERS, '--out', outDir])
    return { how: '`bun scripts/build.ts` (what `npm run build` runs; fresh from the working tree)', paths }
  }
  for (const w of WORKERS) compilePlain(WORKER_ENTRY[w], paths[w])
  return { how: '`bun build --compile --minify` (the project has no build script)', paths }
}

/** The readers' binaries, built by the project's build into `outDir`. */
export function compileProjectReaders(outDir: string): Record<(typeof READERS)[number], string> {
  mkdirSync(outDir, { recursive: true })
  bun(['scripts/build.ts', ...READERS, '--out', outDir])
  return Object.fromEntries(READERS.map((r) => [r, join(outDir, r)])) as Record<
    (typeof READERS)[number],
    string
  >
}

/** `bun build --compile --minify [flags] <entry>`: by default no bytecode, no source map. */
export function compilePlain(entry: string, outFile: string, flags: readonly string[] = []): string {
  bun(['build', '--compile', '--minify', ...flags, entry, '--outfile', outFile])
  return outFile
}

/** The project's multi-call binary (every worker in one file), when its build script has one. */
export function compileMultiCall(outDir: string): string | undefined {
  const script = join(ROOT, 'scripts', 'build.ts')
  if (!existsSync(script) || !readFileSync(script, 'utf8').includes("'order-saga'")) return undefined
  return compileProject('order-saga', outDir)
}

/** One binary built by the project's build script with extra flags; undefined when it did not write it. */
export function compileProject(
  name: string,
  outDir: string,
  flags: readonly string[] = [],
): string | undefined {
  bun(['scripts/build.ts', name, '--out', outDir, ...flags])
  const path = join(outDir, name)
  return existsSync(path) ? path : undefined
}

/** A TypeScript entry bundled for Node 20 (which runs no .ts), every package inlined. */
export function bundleForNode(entry: string, outFile: string): string {
  bun(['build', '--target=node', '--format=esm', entry, '--outfile', outFile])
  return outFile
}

/** The Node build of the workers (scripts/build-node.ts) into `outDir` inside the project, or undefined without one. */
export function buildNodeWorkers(outDir: string): string | undefined {
  if (!existsSync(join(ROOT, 'scripts', 'build-node.ts'))) return undefined
  bun(['scripts/build-node.ts', '--outdir', outDir])
  return existsSync(join(outDir, 'order.js')) ? outDir : undefined
}

export interface SizedFile {
  bytes: number
  gzipBytes: number
}

export function sizeOf(file: string): SizedFile {
  const data = readFileSync(file)
  return { bytes: statSync(file).size, gzipBytes: gzipSync(data, { level: 9 }).length }
}

/**
 * A worker's own JavaScript, what its binary adds to the Bun runtime:
 * `bun build --minify --target=bun` with the project build's resolution
 * (`resolutionArgs`; for the workers that serve `/docs`, Swagger UI's files
 * not in the code but embedded beside it).
 */
export function workerBundle(worker: ServiceName, outDir: string): SizedFile {
  const outFile = join(outDir, `${worker}.js`)
  bun([
    'build',
    '--minify',
    '--target=bun',
    ...resolutionArgs(),
    DOCS_DEFINE,
    ...(worker === 'console' ? [CONSOLE_PAGE_DEFINE] : []),
    WORKER_ENTRY[worker],
    '--outfile',
    outFile,
  ])
  return sizeOf(outFile)
}

/** The Worker (edge) bundle via `npm run build:edge` (or its script, scripts/build-edge.ts) when the project has one. */
export function edgeBundle(
  outDir: string,
): { file: string; size: SizedFile; how: string } | { missing: string } {
  const scripts =
    (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> })
      .scripts ?? {}
  const viaNpm = scripts['build:edge'] !== undefined
  if (!viaNpm && !existsSync(join(ROOT, 'scripts', 'build-edge.ts')))
    return { missing: 'the project has no Worker build (`npm run build:edge`)' }
  const [cmd, args, how] = viaNpm
    ? ['npm', ['run', '--silent', 'build:edge', '--', '--outdir', outDir], '`npm run build:edge`']
    : [BUN, ['scripts/build-edge.ts', '--outdir', outDir], '`bun scripts/build-edge.ts` (no npm script yet)']
  try {
    execFileSync(cmd, args, {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 300_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
  } catch (error) {
    // It exits 1 over its budget; the bundle is still written and weighed here.
    if (!existsSync(join(outDir, 'edge.js')))
      return {
        missing: `${how} failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      }
  }
  const file = join(outDir, 'edge.js')
  return existsSync(file) ? { file, size: sizeOf(file), how } : { missing: `${how} wrote no edge.js` }
}
