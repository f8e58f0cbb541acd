// The Worker bundle `npm run build:edge` makes (wrangler's own bundling), run in
// workerd through Miniflare's API: no network, no Cloudflare account.
import { join } from 'node:path'
import { Miniflare } from 'miniflare'
import { runBunScript, scratchDir } from './commands.ts'

/** The date in wrangler.toml. */
export const COMPATIBILITY_DATE = '2026-04-20'

export interface EdgeBundle {
  dir: string
  scriptPath: string
  /** What the build printed (sizes). */
  report: string
  remove: () => Promise<void>
}

export async function buildEdgeBundle(): Promise<EdgeBundle> {
  const dir = await scratchDir('edge')
  try {
    const report = await runBunScript('build-edge.ts', ['--outdir', dir.path], 120_000)
    return { dir: dir.path, scriptPath: join(dir.path, 'edge.js'), report, remove: dir.remove }
  } catch (error) {
    await dir.remove()
    throw error
  }
}

export interface EdgeIntake {
  fetch(
    path: string,
    init?: { method?: string; headers?: Record<string, string>; body?: string },
  ): Promise<Response>
  /** workerd's own HTTP listener (a free port on 127.0.0.1), for tests that need a real connection. */
  url: URL
  dispose(): Promise<void>
}

/** The Worker with these vars; requests go through workerd as from a client. */
export async function startEdgeIntake(bundle: EdgeBundle, vars: Record<string, string>): Promise<EdgeIntake> {
  const mf = new Miniflare({
    modules: true,
    scriptPath: bundle.scriptPath,
    modulesRoot: bundle.dir,
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: vars,
    cf: false,
    host: '127.0.0.1',
    port: 0,
  })
  const url = await mf.ready
  return {
    url,
    fetch: async (path, init = {}) =>
      (await mf.dispatchFetch(`http://order-edge.test${path}`, init)) as unknown as Response,
    dispose: () => mf.dispose(),
  }
}
