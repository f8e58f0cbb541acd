import { readFileSync } from 'node:fs'
import { ConfigError } from './load-config.ts'

/**
 * Every setting that holds a secret or key material; each can be given as
 * `NAME` or as `NAME_FILE` (a path). The composition root resolves them.
 */
export const SECRET_SETTINGS = [
  'API_KEYS',
  'GATEWAY_SECRET_KEY',
  'PAYMENT_TOKEN_PUBLIC_KEY',
  'PAYMENT_TOKEN_PRIVATE_KEYS',
  'NATS_NKEY_SEED',
  'IDEMPOTENCY_FINGERPRINT_KEY',
  'RECORD_KEYS',
] as const

type Env = Readonly<Record<string, string | undefined>>

/**
 * Secrets come from the environment or from a file: for each `NAME` in
 * `names`, `NAME_FILE` (a path, e.g. a mounted Docker/Kubernetes secret) is
 * read into `NAME`. Setting both is an error, as is an unreadable file; every
 * problem is reported at once. The values are never logged.
 */
export function withSecretFiles(
  env: Env,
  names: readonly string[],
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Record<string, string | undefined> {
  const { out, problems } = readSecretFiles(env, names, read)
  if (problems.length > 0) throw new ConfigError(problems)
  return out
}

/**
 * `load` on the environment with its secret files read in. A secret file's
 * problem does not hide the other settings': they are listed together, and
 * the setting whose file failed is not listed a second time as missing.
 */
export function loadWithSecretFiles<C>(
  env: Env,
  names: readonly string[],
  load: (env: Record<string, string | undefined>) => C,
  read?: (path: string) => string,
): C {
  const { out, problems, failed } = readSecretFiles(env, names, read)
  if (problems.length === 0) return load(out)
  let others: readonly string[] = []
  try {
    load(out)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    others = error.problems.filter((p) => !failed.has(/^[A-Z0-9_]+/.exec(p)?.[0] ?? ''))
  }
  throw new ConfigError([...problems, ...others])
}

/** `NAME_FILE` read into `NAME` for each name; the problems and the names whose file failed, not thrown. */
export function readSecretFiles(
  env: Env,
  names: readonly string[],
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): { out: Record<string, string | undefined>; problems: string[]; failed: Set<string> } {
  const out: Record<string, string | undefined> = { ...env }
  const problems: string[] = []
  const failed = new Set<string>()
  for (const name of names) {
    const path = env[`${name}_FILE`]
    if (path === undefined || path === '') continue
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(
        `${name}: set either ${name} or ${name}_FILE, not both (a sourced env file may have exported ${name}_FILE: unset it)`,
      )
      failed.add(name)
      continue
    }
    try {
      // Trailing blank lines, CRLF and spaces are an editor's, never part of a secret.
      const value = read(path).replace(/\s+$/, '')
      // An empty file is a mistake, not "unset": an empty NKEY seed would connect with no identity.
      if (value.trim() === '') {
        problems.push(`${name}_FILE: ${path} is empty`)
        failed.add(name)
      } else out[name] = value
    } catch (error) {
      problems.push(`${name}_FILE: cannot read ${path} (${readFailure(error)})`)
      failed.add(name)
    }
  }
  return { out, problems, failed }
}

/** Why a file could not be read, in a word: its errno code, or what Deno lacks. */
function readFailure(error: unknown): string {
  const failure = error as (NodeJS.ErrnoException & { name?: string }) | undefined
  // Deno without --allow-read throws NotCapable (PermissionDenied before Deno 2), with no `code`.
  return (
    failure?.code ??
    (failure?.name === 'NotCapable' || failure?.name === 'PermissionDenied'
      ? 'Deno needs --allow-read'
      : 'unreadable')
  )
}

/**
 * `NATS_TLS_CA_FILE`, when set, must be a readable PEM file with a
 * certificate: checked with the other settings at start, so a wrong path is
 * one line at once, not a TLS error retried until the connect deadline.
 */
export function caFileProblems(
  env: Env,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): string[] {
  const path = env['NATS_TLS_CA_FILE']
  if (path === undefined || path === '') return []
  let text: string
  try {
    text = read(path)
  } catch (error) {
    return [`NATS_TLS_CA_FILE: cannot read ${path} (${readFailure(error)})`]
  }
  return text.includes('-----BEGIN CERTIFICATE-----')
    ? []
    : [`NATS_TLS_CA_FILE: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`]
}
