// 2b. The throughput baseline, measured in the same run: the code the
// performance issue was filed against, checked out in a git worktree and run
// through its own end-to-end section (its own workers, its own bench), so the
// "3x today's confirmed orders/s" target is a ratio of two figures of one run
// on one machine rather than of a figure against another day's constant.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { withDeadline } from '../../shared/resilience/deadline.ts'
import { BUN, ROOT } from '../lib/builds.ts'
import type { BenchContext } from '../lib/context.ts'
import { spawnLogged, stopWithDescendants, tailOf } from '../lib/processes.ts'
import { toFigure, type Figure } from '../lib/stats.ts'

/** The code the performance issue measured as "today": its end-to-end section is the baseline. */
export const BASELINE_REVISION = 'ae132ea'

/** The baseline's own bench, whole (build, three saturation runs, half rate, hot sku, profile): ~100 s here. */
const BASELINE_TIMEOUT_MS = 15 * 60_000

export interface BaselineResult {
  revision: string
  commit: string
  /** What ran, in the worktree of the revision. */
  command: string
  /** Confirmed orders/s at saturation: the runs of each of its benches, together. */
  confirmedPerSec: Figure
  /** Its CPU per confirmed order by process, ms: the mean of its benches' profiled saturation runs. */
  cpuMsByProcess: Record<string, number>
  /** How many times its bench ran (before and after this run's end-to-end section). */
  benches: number
  /** Each bench's own confirmed orders/s, in the order they ran: the host's drift between them shows. */
  perBench: Figure[]
  /** Wall time of its benches together, s. */
  durationS: number
}

/**
 * The baseline measured before and after this run's end-to-end section, as
 * one figure: the host's speed drifts within minutes, and the two benches
 * bracket the figure they are compared with.
 */
export function mergeBaselines(a: BaselineResult, b: BaselineResult): BaselineResult {
  const names = new Set([...Object.keys(a.cpuMsByProcess), ...Object.keys(b.cpuMsByProcess)])
  const cpuMsByProcess = Object.fromEntries(
    [...names].map((name) => {
      const each = [a, b].flatMap((r) => {
        const ms = r.cpuMsByProcess[name]
        return ms === undefined ? [] : Array<number>(r.benches).fill(ms)
      })
      return [name, each.reduce((sum, ms) => sum + ms, 0) / each.length]
    }),
  )
  return {
    ...a,
    confirmedPerSec: toFigure([...a.confirmedPerSec.runs, ...b.confirmedPerSec.runs]),
    cpuMsByProcess,
    benches: a.benches + b.benches,
    perBench: [...a.perBench, ...b.perBench],
    durationS: a.durationS + b.durationS,
  }
}

/** What this section needs from the baseline's report (`bench/results/only-e2e.json` of its tree). */
function readBaselineReport(file: string): Pick<BaselineResult, 'confirmedPerSec' | 'cpuMsByProcess'> {
  const report = JSON.parse(readFileSync(file, 'utf8')) as {
    errors?: unknown
    endToEnd?: {
      spread?: { confirmedPerSec?: Figure }
      profile?: { cpuMsByProcess?: Record<string, number> }
    }
  }
  const confirmedPerSec = report.endToEnd?.spread?.confirmedPerSec
  const cpuMsByProcess = report.endToEnd?.profile?.cpuMsByProcess
  if (
    confirmedPerSec === undefined ||
    !Number.isFinite(confirmedPerSec.median) ||
    confirmedPerSec.median <= 0 ||
    cpuMsByProcess === undefined
  ) {
    const errors = Array.isArray(report.errors) ? report.errors.map(String).join('; ') : ''
    throw new Error(`the baseline's report has no end-to-end figures${errors === '' ? '' : `: ${errors}`}`)
  }
  return { confirmedPerSec, cpuMsByProcess }
}

function git(args: readonly string[]): string {
  return execFileSync('git', ['-C', ROOT, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim()
}

export async function runBaseline(ctx: BenchContext): Promise<BaselineResult> {
  let commit: string
  try {
    commit = git(['rev-parse', '--verify', '--quiet', `${BASELINE_REVISION}^{commit}`])
  } catch {
    throw new Error(
      `revision ${BASELINE_REVISION} is not in this clone (a shallow clone or an archive?): ` +
        '`git fetch --unshallow` and run again',
    )
  }
  // A tree of its own per bench: one left behind by a failed removal does not stop the next.
  const tree = mkdtempSync(join(ctx.tmp, 'baseline-tree-'))
  git(['worktree', 'add', '--quiet', '--detach', tree, commit])
  try {
    // Its own code, this checkout's dependencies and nats-server (as bench/ab.sh runs it).
    symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'))
    if (existsSync(join(ROOT, '.local'))) symlinkSync(join(ROOT, '.local'), join(tree, '.local'))
    const args = ['bench/run.ts', '--only', 'e2e', '--no-wait', ...(ctx.settings.smoke ? ['--smoke'] : [])]
    const command = `bun ${args.join(' ')}`
    ctx.log(`baseline: ${BASELINE_REVISION}'s end-to-end section (${command} in its worktree)`)
    const started = performance.now()
    const proc = spawnLogged({
      name: 'baseline-bench',
      cmd: BUN,
      args,
      cwd: tree,
      logFile: join(ctx.logDir, 'baseline.log'),
      // The revision's own defaults: a diagnostic setting of this run would rename its report or change its workers.
      unsetEnv: Object.keys(process.env).filter((name) => name.startsWith('BENCH_')),
    })
    let code: number | null
    try {
      // `exited` never rejects: what lands here is the deadline.
      code = await withDeadline(
        proc.exited,
        BASELINE_TIMEOUT_MS,
        () => new Error(`the baseline's bench took more than ${BASELINE_TIMEOUT_MS / 60_000} min`),
      )
    } catch (error) {
      await stopWithDescendants(proc)
      throw new Error(`${(error as Error).message}:\n${tailOf(proc.logFile)}`)
    }
    await proc.stop()
    if (code !== 0)
      throw new Error(`the baseline's bench exited with ${String(code)}:\n${tailOf(proc.logFile)}`)
    const file = join(tree, 'bench', 'results', `${ctx.settings.smoke ? 'smoke-' : ''}only-e2e.json`)
    const figures = readBaselineReport(file)
    const durationS = (performance.now() - started) / 1000
    ctx.log(
      `baseline: ${Math.round(figures.confirmedPerSec.median)} confirmed orders/s at ${BASELINE_REVISION}`,
    )
    return {
      revision: BASELINE_REVISION,
      commit,
      command,
      ...figures,
      benches: 1,
      perBench: [figures.confirmedPerSec],
      durationS,
    }
  } finally {
    try {
      git(['worktree', 'remove', '--force', tree])
    } catch (error) {
      ctx.log(`baseline: could not remove the worktree ${tree}: ${String(error)}`)
    }
  }
}
