/**
 * The oldest nats-server the project runs on, in one place: the resolver for
 * tests and local runs (scripts/nats-server-bin.ts), the fetch script's check
 * of its copy and every worker's start-up check read it. Why 2.12: see
 * docs/nats-server.md.
 */
export const MIN_NATS_SERVER_VERSION = '2.12.0'

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

/** The connected server (or the one a binary reports) is older than the project needs. */
export class NatsServerTooOldError extends Error {
  override readonly name = 'NatsServerTooOldError'
  /** The version the server reported, or "unknown" when it sent none. */
  readonly found: string
  readonly needed: string

  constructor(found: string, needed: string, where: string, options?: ErrorOptions) {
    super(
      `nats-server ${found} at ${where} is too old: this project needs nats-server >= ${needed} (docs/nats-server.md)`,
      options,
    )
    this.found = found
    this.needed = needed
  }
}

/** The part of the server's INFO this reads (`nc.info` of a nats.js connection). */
export interface ServerVersionInfo {
  version?: string
}

/**
 * Throws `NatsServerTooOldError` unless the server's INFO reports a version
 * >= `needed`. An INFO without a version counts as too old: nothing newer than
 * 2.0 omits it.
 */
export function checkNatsServerVersion(
  info: ServerVersionInfo | undefined,
  where: string,
  needed: string = MIN_NATS_SERVER_VERSION,
): void {
  const found = info?.version
  if (found === undefined || found === '') throw new NatsServerTooOldError('unknown', needed, where)
  if (compareVersions(found, needed) < 0) throw new NatsServerTooOldError(found, needed, where)
}

/** The connected server, or this identity's account on it, runs without JetStream. */
export class JetStreamDisabledError extends Error {
  override readonly name = 'JetStreamDisabledError'

  constructor(where: string, forAccount = false) {
    super(
      forAccount
        ? `nats-server at ${where} has JetStream disabled for this identity's account: enable it for the account (jetstream: enabled in its accounts {} entry) (docs/nats-server.md)`
        : `nats-server at ${where} has JetStream disabled: start it with -js or a jetstream {} block (docs/nats-server.md)`,
    )
  }
}

/** nats-server's error code for an account without JetStream. */
const ACCOUNT_WITHOUT_JETSTREAM = 10039

/**
 * Fails at once when waiting cannot help: the connected server says it has
 * no JetStream and nothing answers JetStream's API, or the API answers that
 * this identity's account has none. A cluster still forming answers
 * otherwise, and anything else is left to the caller's retries.
 */
export async function checkJetStreamEnabled(
  nc: {
    info?: { jetstream?: boolean } | undefined
    getServer(): string
    request(subject: string, data: string, opts: { timeout: number }): Promise<{ string(): string }>
  },
  timeoutMs: number,
): Promise<void> {
  let answer: string
  try {
    answer = (await nc.request('$JS.API.INFO', '', { timeout: timeoutMs })).string()
  } catch (error) {
    if (nc.info?.jetstream !== true && hasNoResponders(error))
      throw new JetStreamDisabledError(nc.getServer())
    return
  }
  let code: unknown
  try {
    code = (JSON.parse(answer) as { error?: { err_code?: unknown } }).error?.err_code
  } catch {
    return
  }
  if (code === ACCOUNT_WITHOUT_JETSTREAM) throw new JetStreamDisabledError(nc.getServer(), true)
}

function hasNoResponders(error: unknown): boolean {
  for (let current = error; current instanceof Error; current = current.cause) {
    if (current.name === 'NoRespondersError' || /no responders/i.test(current.message)) return true
  }
  return false
}
