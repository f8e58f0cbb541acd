// Finds a nats-server >= MIN_NATS_SERVER_VERSION (shared/nats/server-version.ts)
// for tests and local runs.
// Order: $NATS_SERVER_BIN, `nats-server` on PATH, the project-local copy that
// scripts/fetch-nats-server.sh unpacks into .local/nats-server/. A binary on
// PATH that is too old is passed over for the project copy; an explicitly set
// NATS_SERVER_BIN is the one used or an error (NatsServerBinUnusableError),
// never passed over: whoever set it meant that binary.
// Run directly (`bun scripts/nats-server-bin.ts`) it prints the choice or why none fits.
import { execFile } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compareVersions, MIN_NATS_SERVER_VERSION } from '../shared/nats/server-version.ts'

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

/** $NATS_SERVER_BIN is set but names no usable binary (missing, failing, or too old). */
export class NatsServerBinUnusableError extends Error {
  override readonly name = 'NatsServerBinUnusableError'
  readonly candidate: NatsServerCandidate

  constructor(candidate: NatsServerCandidate, options?: ErrorOptions) {
    super(describeUnusableEnv(candidate), options)
    this.candidate = candidate
  }
}

/** The repository root: the parent of this file's folder. */
export const projectRoot: string = fileURLToPath(new URL('..', import.meta.url))

export const projectNatsServerPath = (root: string = projectRoot): string =>
  join(root, '.local', 'nats-server', 'usr', 'sbin', 'nats-server')

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
    if (source === 'NATS_SERVER_BIN' && candidate.status !== 'ok' && candidate.status !== 'not set')
      throw new NatsServerBinUnusableError(candidate)
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

function describeStatus(c: NatsServerCandidate): string {
  if (c.status === 'too old') return `too old: needs >= ${MIN_NATS_SERVER_VERSION}`
  return c.detail === undefined ? c.status : `${c.status}: ${c.detail}`
}

function describeUnusableEnv(c: NatsServerCandidate): string {
  const found = c.version === undefined ? '' : ` is nats-server v${c.version}, which`
  return [
    `NATS_SERVER_BIN=${c.bin ?? ''}${found} cannot be used (${describeStatus(c)}).`,
    `This project needs nats-server >= ${MIN_NATS_SERVER_VERSION}. Point NATS_SERVER_BIN at one, or unset it`,
    'to use `nats-server` on PATH or the project copy (bash scripts/fetch-nats-server.sh).',
  ].join('\n')
}

function describeMissing(candidates: readonly NatsServerCandidate[]): string {
  const rows = candidates.map((c) => {
    const where = c.bin ?? (c.source === 'NATS_SERVER_BIN' ? '$NATS_SERVER_BIN' : 'nats-server')
    const version = c.version === undefined ? '' : ` v${c.version}`
    return `  - ${c.source}: ${where}${version} (${describeStatus(c)})`
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
