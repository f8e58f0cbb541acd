// `npm run compose:secrets [-- --force]`: everything secret the compose stack
// mounts, made once into .local/compose (or $ORDER_SAGA_COMPOSE_DIR, which
// compose.yaml reads too):
//   secrets.json              every deployment secret (0600); API_KEY, ADMIN_API_KEY
//                             and GATEWAY_SECRET_KEY from the environment win, as for npm start
//   secrets/<service>/<NAME>  each service's own secrets (admin: the provision step's)
//   nats-auth.conf            the authorization block, generated from the access table
//   nats-routes.conf          the route user and password the cluster block includes
//   tls/                      a private CA and a server certificate for nats-1..3,
//                             localhost and 127.0.0.1 (ca-key.pem stays 0600)
//   compose.env, env          compose's marker; the operator's exports (0600)
//   grafana-admin-password    the observability profile's Grafana admin password
//                             (GRAFANA_ADMIN_PASSWORD from the environment wins)
// secrets.json, tls/ and the Grafana password are kept on later runs (--force makes new ones); the
// rest is written again from them. Folders are 0700. The files the containers
// mount are 0644: a bind mount keeps the host owner and mode, and the services
// run as uid 65532, which a 0600 file owned by you (or by root) shuts out; the
// 0700 folders keep other users of this host away from them.
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  statSync,
} from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { renderAuthorization } from '../../shared/security/nats-auth-config.ts'
import { apiGuardFromEnv } from '../../shared/security/api-guard.ts'
import { natsPublicKeys } from '../../shared/security/deployment-secrets.ts'
import { projectRoot } from '../nats-server-bin.ts'
import { shown } from '../start/banner.ts'
import { processAlive, writePrivateFile } from '../start/run-dir.ts'
import { loadStackSecrets, secretFiles } from '../start/secrets.ts'
import { makeDevCertificates } from '../tls/dev-certificates.ts'
import {
  CERTIFICATE_HOSTS,
  COMPOSE_ENV_TEXT,
  COMPOSE_HOLDERS,
  composeIdentity,
  composePaths,
  publishedNatsUrl,
  renderOperatorEnv,
  renderRoutes,
  type ComposePaths,
} from './compose-files.ts'
import { asksForHelp } from '../lib/help.ts'

type Env = Readonly<Record<string, string | undefined>>

export const COMPOSE_DIR_VAR = 'ORDER_SAGA_COMPOSE_DIR'

/** `$ORDER_SAGA_COMPOSE_DIR`, else `<project>/.local/compose`. */
export function composeDir(env: Env, root: string = projectRoot): string {
  const dir = env[COMPOSE_DIR_VAR]
  return dir === undefined || dir === '' ? join(root, '.local', 'compose') : resolve(root, dir)
}

export interface ComposeSecrets {
  paths: ComposePaths
  /** The operator's entries of the env file (keys and the admin identity). */
  operatorEnv: Record<string, string>
  /** Whether the deployment secrets and the certificates were made now (else kept). */
  created: { secrets: boolean; certificates: boolean }
}

const MOUNTED = 0o644

/** Writes a file a container mounts: atomically, then readable by the container's user. */
function writeMounted(file: string, text: string): void {
  clearStrayDir(file)
  writePrivateFile(file, text)
  chmodSync(file, MOUNTED)
}

/** Podman creates an empty folder where a bind-mounted file is missing: make room for the file. */
function clearStrayDir(file: string): void {
  if (existsSync(file) && statSync(file).isDirectory()) rmdirSync(file)
}

/** `ORDER_SAGA_COMPOSE_DIR` names a folder this tool did not make. */
export class ComposeDirError extends Error {
  override readonly name = 'ComposeDirError'
}

/**
 * The folder is made private (0700): only a new one, an empty one, or one this
 * tool made (its `secrets.json`), never a folder of other files (`/tmp`).
 */
function checkOwnDir(paths: ComposePaths): void {
  if (!existsSync(paths.dir)) return
  if (!statSync(paths.dir).isDirectory())
    throw new ComposeDirError(`${COMPOSE_DIR_VAR}=${paths.dir} is not a folder`)
  // Its own files (a run stopped between --force's removal of secrets.json and the new one) count as its own.
  if (readdirSync(paths.dir).some((entry) => !isOwnEntry(paths, entry)) && !existsSync(paths.secretsJson))
    throw new ComposeDirError(
      `${COMPOSE_DIR_VAR}=${paths.dir} holds files this tool did not make (no secrets.json): name a new or empty folder, it is made private (0700)`,
    )
}

/** `GRAFANA_ADMIN_PASSWORD` that Grafana would not read back as set. */
export class GrafanaPasswordError extends Error {
  override readonly name = 'GrafanaPasswordError'
}

/**
 * `GRAFANA_ADMIN_PASSWORD` when set, else the one made before, else a new
 * one. Grafana's image reads it from the file named by
 * GF_SECURITY_ADMIN_PASSWORD__FILE, dropping trailing line breaks, and takes
 * it on its first start only (its database keeps the admin user after that).
 */
function grafanaAdminPassword(env: Env, file: string, force: boolean): string {
  const kept = existsSync(file) && statSync(file).isFile() ? readFileSync(file, 'utf8') : ''
  const given = env['GRAFANA_ADMIN_PASSWORD']
  // --force after `. .local/compose/env`: the exported old password is not a new one.
  if (given !== undefined && given !== '' && !(force && given === kept)) {
    if (given.length < 12 || /[\s\p{Cc}]/u.test(given))
      throw new GrafanaPasswordError(
        'GRAFANA_ADMIN_PASSWORD must be at least 12 characters, without spaces, line breaks or control characters',
      )
    return given
  }
  if (!force && kept !== '') return kept
  return randomBytes(18).toString('base64url')
}

/** A name this tool writes at the top of its folder, or the temporary file a killed run left of one. */
function isOwnEntry(paths: ComposePaths, entry: string): boolean {
  const own = [
    paths.secretsJson,
    paths.secretsDir,
    paths.tlsDir,
    paths.natsAuth,
    paths.natsRoutes,
    paths.composeEnv,
    paths.operatorEnv,
    paths.grafanaPassword,
  ].map((file) => relative(paths.dir, file))
  // writePrivateFile writes `<file>.<pid>.tmp`, then renames it.
  return own.includes(entry) || own.includes(entry.replace(/\.\d+\.tmp$/, ''))
}

/**
 * What a killed run left of its own writes (`<file>.<pid>.tmp`, at the top
 * and in the holders' folders), whose writer is gone: the new run writes
 * those files again. Nothing else is touched.
 */
function removeStaleTemporaries(paths: ComposePaths): void {
  const stale = (entry: string) => {
    const pid = /\.(\d+)\.tmp$/.exec(entry)?.[1]
    return pid !== undefined && !processAlive(Number(pid), '')
  }
  if (!existsSync(paths.dir)) return
  for (const entry of readdirSync(paths.dir))
    if (stale(entry) && isOwnEntry(paths, entry)) rmSync(join(paths.dir, entry), { force: true })
  for (const holder of COMPOSE_HOLDERS) {
    const dir = paths.holderDir(holder)
    if (!existsSync(dir)) continue
    for (const entry of readdirSync(dir)) if (stale(entry)) rmSync(join(dir, entry), { force: true })
  }
}

function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  chmodSync(dir, 0o700)
}

export async function makeComposeSecrets(
  env: Env,
  { force = false, root = projectRoot }: { force?: boolean; root?: string } = {},
): Promise<ComposeSecrets> {
  // Checked before anything is written.
  const apiGuard = apiGuardFromEnv(env)
  const paths = composePaths(composeDir(env, root))
  checkOwnDir(paths)
  removeStaleTemporaries(paths)
  const grafanaPassword = grafanaAdminPassword(env, paths.grafanaPassword, force)
  privateDir(paths.dir)
  if (force) {
    rmSync(paths.secretsJson, { force: true })
    rmSync(paths.tlsDir, { recursive: true, force: true })
  }
  const created = {
    secrets: !existsSync(paths.secretsJson),
    certificates: ![paths.caFile, paths.certFile, paths.keyFile].every((f) => existsSync(f)),
  }
  const secrets = await loadStackSecrets(paths.dir, env)

  privateDir(paths.secretsDir)
  for (const holder of COMPOSE_HOLDERS) {
    const dir = paths.holderDir(holder)
    privateDir(dir)
    for (const entry of readdirSync(dir)) clearStrayDir(join(dir, entry))
    const files = await secretFiles(paths.dir, composeIdentity(holder), secrets, holder)
    for (const file of Object.values(files)) chmodSync(file, MOUNTED)
  }
  // NATS_API_GUARD=off: a maintenance window (docs/operations.md); on otherwise.
  writeMounted(paths.natsAuth, renderAuthorization(natsPublicKeys(secrets), { apiGuard }))
  writeMounted(paths.natsRoutes, renderRoutes(secrets.routePassword))

  if (created.certificates) {
    privateDir(paths.tlsDir)
    for (const file of [paths.caFile, paths.certFile, paths.keyFile]) clearStrayDir(file)
    await makeDevCertificates(paths.tlsDir, CERTIFICATE_HOSTS)
  }
  privateDir(paths.tlsDir)
  for (const file of [paths.caFile, paths.certFile, paths.keyFile]) chmodSync(file, MOUNTED)

  writeMounted(paths.composeEnv, COMPOSE_ENV_TEXT)
  writeMounted(paths.grafanaPassword, grafanaPassword)
  const operatorEnv = {
    API_KEY: secrets.apiKeys['client']?.key ?? '',
    ADMIN_API_KEY: secrets.apiKeys['admin']?.key ?? '',
    GATEWAY_SECRET_KEY: secrets.gatewaySecretKey,
    NATS_URL: publishedNatsUrl(env),
    // As compose.yaml: npm run provision with the default (1) would scale the streams down.
    NATS_REPLICAS: '3',
    NATS_TLS_CA_FILE: paths.caFile,
    NATS_NKEY_SEED_FILE: join(paths.holderDir('admin'), 'NATS_NKEY_SEED'),
    GRAFANA_ADMIN_PASSWORD: grafanaPassword,
  }
  writePrivateFile(paths.operatorEnv, renderOperatorEnv(operatorEnv))
  return { paths, operatorEnv, created }
}

async function main(argv: readonly string[]): Promise<number> {
  if (asksForHelp(argv)) {
    console.log(
      "usage: npm run compose:secrets [-- --force]\n  makes the compose stack's NKEYs, API keys, gateway key and token keys under .local/compose (--force: new ones)",
    )
    return 0
  }
  const unknown = argv.filter((a) => a !== '--force')
  if (unknown.length > 0) {
    console.error(
      `compose:secrets: unknown argument ${unknown.join(' ')} (usage: npm run compose:secrets [-- --force])`,
    )
    return 2
  }
  const made = await makeComposeSecrets(process.env, { force: argv.includes('--force') }).catch(
    (error: unknown) => {
      if (error instanceof ComposeDirError || error instanceof GrafanaPasswordError) return error
      throw error
    },
  )
  if (made instanceof ComposeDirError || made instanceof GrafanaPasswordError) {
    console.error(`compose:secrets: ${made.message}`)
    return 1
  }
  const { paths, operatorEnv, created } = made
  const what = created.secrets ? 'made new secrets' : 'kept the secrets'
  const tls = created.certificates ? 'a new CA and server certificate' : 'the CA and server certificate'
  console.log(
    composeSecretsReport({
      what,
      tls,
      dir: shown(paths.dir),
      envFile: shown(paths.operatorEnv),
      natsUrl: operatorEnv['NATS_URL'] ?? '',
      // As npm start's banner: the keys on a terminal only, never into a log or a pipe.
      keys:
        process.stdout.isTTY === true
          ? {
              API_KEY: operatorEnv['API_KEY'] ?? '',
              ADMIN_API_KEY: operatorEnv['ADMIN_API_KEY'] ?? '',
              GATEWAY_SECRET_KEY: operatorEnv['GATEWAY_SECRET_KEY'] ?? '',
              GRAFANA_ADMIN_PASSWORD: operatorEnv['GRAFANA_ADMIN_PASSWORD'] ?? '',
            }
          : undefined,
    }),
  )
  return 0
}

/** What `npm run compose:secrets` prints; the keys themselves only when `keys` is given. */
export function composeSecretsReport({
  what,
  tls,
  dir,
  envFile,
  natsUrl,
  keys,
}: {
  what: string
  tls: string
  dir: string
  envFile: string
  natsUrl: string
  keys:
    | Readonly<Record<'API_KEY' | 'ADMIN_API_KEY' | 'GATEWAY_SECRET_KEY' | 'GRAFANA_ADMIN_PASSWORD', string>>
    | undefined
}): string {
  return [
    `compose:secrets: ${what} in ${dir} (and ${tls}); --force makes new ones.`,
    ...(keys === undefined
      ? [
          `  API_KEY, ADMIN_API_KEY, GATEWAY_SECRET_KEY, GRAFANA_ADMIN_PASSWORD: in ${envFile} (not printed: not a terminal)`,
        ]
      : [
          `  API_KEY=${keys.API_KEY}`,
          `  ADMIN_API_KEY=${keys.ADMIN_API_KEY}`,
          `  GATEWAY_SECRET_KEY=${keys.GATEWAY_SECRET_KEY}`,
          `  GRAFANA_ADMIN_PASSWORD=${keys.GRAFANA_ADMIN_PASSWORD} (the observability profile's Grafana, user admin)`,
        ]),
    `  NATS_URL=${natsUrl} (from NATS_1_PORT..NATS_3_PORT as set now: run this again if you publish other ports)`,
    `Load the keys (and the admin NATS identity, NATS_URL, NATS_REPLICAS and the CA) with: . ${envFile}`,
    'then: docker compose up -d --build --wait',
    '',
  ].join('\n')
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)))
