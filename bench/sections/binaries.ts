// 4 and 5. Binaries and bundles: size of each compiled worker against the bare
// Bun runtime, cold start to /ready of the order worker (project binary, plain
// compile, `bun run`, Node build), each worker's own JavaScript and the Worker bundle.
import { mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import {
  BUN,
  BUN_RUNTIME,
  buildNodeWorkers,
  compileMultiCall,
  compilePlain,
  compileProject,
  compileProjectReaders,
  edgeBundle,
  READERS,
  ROOT,
  WORKERS,
  WORKER_ENTRY,
  workerBundle,
  type ServiceName,
  type SizedFile,
} from '../lib/builds.ts'
import type { BenchContext } from '../lib/context.ts'
import { startBenchNats } from '../lib/nats.ts'
import { readRss } from '../lib/processes.ts'
import { startService } from '../lib/services.ts'
import { toFigure, type Figure } from '../lib/stats.ts'

export interface BinariesResult {
  bunRuntimeBytes: number
  buildHow: string
  /** The saga's five services always; analytics and console unless they failed (`readerErrors`). */
  binaries: Partial<
    Record<ServiceName, { bytes: number; plainBytes: number; idle: Figure; plainIdleMiB: number }>
  >
  /** Why a reader (analytics, console) is missing from `binaries`. */
  readerErrors?: string[]
  /** An empty program compiled plainly: the runtime plus `--compile`'s fixed overhead. */
  emptyCompiledBytes: number
  /** The order worker built `--bytecode --format=esm` without source map or kept names. */
  leanOrderBytes: number
  /** The order worker's project build with its source map embedded (`scripts/build.ts --sourcemap`). */
  sourcemapOrderBytes?: number
  /** The project's multi-call binary (every worker in one file), when it builds one. */
  multiCallBytes?: number
  /** Idle RSS of the bare baseline (b) compiled: Bun + the NATS client and nothing else. */
  bareIdleMiB: number
  /** Idle RSS of a compiled Bun.serve that loads one library (bench/probes/rss-probe.ts). */
  libraryRss: Record<string, Figure>
  coldStart: { way: string; readyMs: Figure }[]
  coldStartNote?: string
  bundles: Record<ServiceName, SizedFile>
  edge: { size: SizedFile; how: string } | { missing: string }
}

interface StartWay {
  way: string
  cmd: string
  args: string[]
}

export async function runBinaries(ctx: BenchContext): Promise<BinariesResult> {
  const readerErrors: string[] = []
  const plainDir = join(ctx.tmp, 'plain')
  mkdirSync(plainDir, { recursive: true })
  const binaries: BinariesResult['binaries'] = {}
  const measure = async (w: ServiceName, path: string, natsUrl: string) => {
    const plain = compilePlain(WORKER_ENTRY[w], join(plainDir, w))
    ctx.log(`idle RSS of ${w}`)
    const env = async () => ({ ...(await ctx.security.env(w)), NATS_URL: natsUrl })
    binaries[w] = {
      bytes: statSync(path).size,
      plainBytes: statSync(plain).size,
      idle: toFigure(await sequence(ctx.settings.runs, async () => idleRss(ctx, w, path, await env()))),
      plainIdleMiB: ctx.settings.smoke ? Number.NaN : await idleRss(ctx, w, plain, await env()),
    }
  }
  // Every service against a nats-server of its own, provisioned and empty: on
  // the run's server a worker's consumers would find what the earlier
  // sections left (an order in flight when a section stopped its workers,
  // every order for the readers) and start on it, which is not idle.
  mkdirSync(join(ctx.tmp, 'idle-nats'), { recursive: true })
  const fresh = await startBenchNats(join(ctx.tmp, 'idle-nats'), ctx.security)
  try {
    await ctx.security.provision(fresh.url)
    // The saga's workers as the run built them.
    for (const w of WORKERS) await measure(w, ctx.workers.paths[w], fresh.url)
    // Compose's two readers beside them: one that does not build or start is
    // named in the report's errors and left out, the rest of the section kept.
    await measureReaders(fresh.url)
  } finally {
    await fresh.stop()
  }

  async function measureReaders(natsUrl: string): Promise<void> {
    try {
      const readers = compileProjectReaders(join(ctx.tmp, 'readers'))
      for (const w of READERS) {
        try {
          await measure(w, readers[w], natsUrl)
        } catch (error) {
          readerErrors.push(`${w}: ${error instanceof Error ? error.message : String(error)}`)
        }
      }
    } catch (error) {
      readerErrors.push(
        `analytics and console not measured: ${error instanceof Error ? error.message : String(error)}`,
      )
    }
  }

  // A plain bytecode build (no kept names, Swagger UI's files as text in the
  // code), and the project build with its source map: what those choices cost.
  const mapped = compileProject('order', join(ctx.tmp, 'sourcemap'), ['--sourcemap'])
  const lean = compilePlain('workers/order/main.ts', join(plainDir, 'order-lean'), [
    '--bytecode',
    '--format=esm',
    '--external=@hono/node-server',
  ])
  const empty = compilePlain('bench/baselines/empty.ts', join(plainDir, 'empty'))
  const multiCall = compileMultiCall(join(ctx.tmp, 'multi'))
  const bare = compilePlain('bench/baselines/bare-bun.ts', join(plainDir, 'bare-bun'))
  const bareSvc = await startService({
    name: 'idle-bare',
    cmd: bare,
    env: { NATS_URL: ctx.nats.url, ...ctx.security.baselineEnv() },
    logDir: ctx.logDir,
  })
  await new Promise((resolve) => setTimeout(resolve, ctx.settings.smoke ? 500 : 2_000))
  const bareIdleMiB = readRss(bareSvc.proc.pid).rssMiB
  await bareSvc.proc.stop()

  const probe = compilePlain('bench/probes/rss-probe.ts', join(plainDir, 'rss-probe'))
  const adminSeed = ctx.security.secrets.nats.admin.seed
  const libraryRss: Record<string, Figure> = {}
  for (const library of ['none', 'hono', 'valibot', 'pino', 'prom-client', 'prom-client-index', 'nats']) {
    ctx.log(`idle RSS with ${library}`)
    libraryRss[library] = toFigure(
      await sequence(ctx.settings.runs, () =>
        // The probe's NATS client makes a KV bucket: admin.
        idleRss(ctx, `probe-${library}`, probe, { PROBE: library, NATS_NKEY_SEED: adminSeed }),
      ),
    )
  }

  const ways: StartWay[] = [
    { way: 'compiled binary (project build)', cmd: ctx.workers.paths.order, args: [] },
    { way: 'compiled binary (plain `bun build --compile --minify`)', cmd: join(plainDir, 'order'), args: [] },
    { way: 'compiled binary (`--minify --bytecode`, no source map, no kept names)', cmd: lean, args: [] },
    { way: '`bun run workers/order/main.ts`', cmd: BUN, args: ['run', 'workers/order/main.ts'] },
  ]
  let coldStartNote: string | undefined
  const orderEnv = { NATS_URL: ctx.nats.url, ...(await ctx.security.env('order')) }
  // Inside node_modules (ignored by git and lint) so the bundle's bare imports resolve from the project.
  const nodeDir = buildNodeWorkers(join(ROOT, 'node_modules', '.cache', 'order-saga-bench', 'node'))
  if (nodeDir === undefined)
    coldStartNote = 'Node: skipped, the project has no Node build (scripts/build-node.ts)'
  else
    ways.push({
      way: '`node` on the Node build (scripts/build-node.ts)',
      cmd: 'node',
      args: [join(nodeDir, 'order.js')],
    })

  const samples = new Map<string, number[]>(ways.map((w) => [w.way, []]))
  for (let i = 1; i <= ctx.settings.coldStarts; i++) {
    ctx.log(`cold start ${i}/${ctx.settings.coldStarts}`)
    for (const way of ways) {
      try {
        const svc = await startService({
          name: 'cold-start',
          cmd: way.cmd,
          args: way.args,
          env: orderEnv,
          logDir: ctx.logDir,
        })
        samples.get(way.way)?.push(svc.readyMs)
        await svc.proc.stop()
      } catch (error) {
        coldStartNote =
          `${coldStartNote ?? ''} ${way.way} failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`.trim()
      }
    }
  }

  const bundleDir = join(ctx.tmp, 'bundles')
  const bundles = {} as Record<ServiceName, SizedFile>
  for (const w of [...WORKERS, ...READERS]) bundles[w] = workerBundle(w, bundleDir)
  const edge = edgeBundle(join(ctx.tmp, 'edge'))
  return {
    bunRuntimeBytes: statSync(BUN_RUNTIME).size,
    buildHow: ctx.workers.how,
    binaries,
    emptyCompiledBytes: statSync(empty).size,
    leanOrderBytes: statSync(lean).size,
    ...(mapped !== undefined ? { sourcemapOrderBytes: statSync(mapped).size } : {}),
    ...(multiCall !== undefined ? { multiCallBytes: statSync(multiCall).size } : {}),
    bareIdleMiB,
    libraryRss,
    coldStart: ways.map((w) => ({ way: w.way, readyMs: toFigure(samples.get(w.way) ?? []) })),
    ...(coldStartNote !== undefined ? { coldStartNote } : {}),
    bundles,
    ...(readerErrors.length > 0 ? { readerErrors } : {}),
    edge: 'size' in edge ? { size: edge.size, how: edge.how } : edge,
  }
}

async function sequence<T>(n: number, work: () => Promise<T>): Promise<T[]> {
  const out: T[] = []
  for (let i = 0; i < n; i++) out.push(await work())
  return out
}

/** VmRSS of a freshly started worker once it has been ready for a moment (no traffic). */
async function idleRss(
  ctx: BenchContext,
  name: string,
  cmd: string,
  env: Record<string, string> = {},
): Promise<number> {
  const svc = await startService({
    name: `idle-${name}`,
    cmd,
    env: { NATS_URL: ctx.nats.url, ...env },
    logDir: ctx.logDir,
    readyPath: name.startsWith('probe-') ? '/' : '/ready',
  })
  try {
    await new Promise((resolve) => setTimeout(resolve, ctx.settings.smoke ? 500 : 2_000))
    return readRss(svc.proc.pid).rssMiB
  } finally {
    await svc.proc.stop()
  }
}
