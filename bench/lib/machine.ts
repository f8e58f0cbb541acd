// Machine facts for the report: cores, CPU, runtime versions, load average.
import { execFileSync } from 'node:child_process'
import { cpus, loadavg, release, totalmem } from 'node:os'

export interface MachineFacts {
  cores: number
  cpuModel: string
  memoryGiB: number
  kernel: string
  node: string
  bun: string
  natsServer: string
  /** What was measured: HEAD and how many files differ from it (read-only git). */
  workTree: string
  /** 1, 5 and 15 minute load averages when the facts were read. */
  loadAverage: [number, number, number]
}

function versionOf(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000 }).trim()
  } catch (error) {
    return `unknown (${error instanceof Error ? error.message : String(error)})`
  }
}

function describeWorkTree(): string {
  const head = versionOf('git', ['rev-parse', '--short', 'HEAD'])
  const changed = versionOf('git', ['status', '--porcelain', '--untracked-files=no'])
    .split('\n')
    .filter(Boolean).length
  return changed === 0 ? head : `${head} + ${changed} uncommitted changes`
}

export function currentLoad(): [number, number, number] {
  const [one = 0, five = 0, fifteen = 0] = loadavg()
  return [round2(one), round2(five), round2(fifteen)]
}

function round2(x: number): number {
  return Math.round(x * 100) / 100
}

export function readMachineFacts(bins: { node: string; bun: string; natsServer: string }): MachineFacts {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: round2(totalmem() / 2 ** 30),
    kernel: release(),
    node: versionOf(bins.node, ['--version']),
    bun: versionOf(bins.bun, ['--version']),
    natsServer: versionOf(bins.natsServer, ['--version']).replace(/^nats-server:\s*/, ''),
    workTree: describeWorkTree(),
    loadAverage: currentLoad(),
  }
}
