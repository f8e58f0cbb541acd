import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { findContainerTools, run } from '../../test/support/container-tools.ts'
import {
  natsPublicKeys,
  serviceSecrets,
  type DeploymentSecrets,
} from '../../shared/security/deployment-secrets.ts'
import { renderAuthorization } from '../../shared/security/nats-auth-config.ts'
import { fromEnvFile } from '../start/run-dir.ts'
import { COMPOSE_HOLDERS, composeIdentity, NATS_NODES } from './compose-files.ts'
import {
  COMPOSE_DIR_VAR,
  ComposeDirError,
  composeSecretsReport,
  GrafanaPasswordError,
  makeComposeSecrets,
} from './compose-secrets.ts'

let dir: string
const env = (): Record<string, string> => ({ [COMPOSE_DIR_VAR]: dir })
const mode = (path: string): string => (statSync(path).mode & 0o777).toString(8)
const read = (path: string): string => readFileSync(path, 'utf8')
const stored = (): DeploymentSecrets => JSON.parse(read(join(dir, 'secrets.json'))) as DeploymentSecrets

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'compose-secrets-')), 'compose')
})
afterEach(async () => {
  await rm(join(dir, '..'), { recursive: true, force: true })
})

describe('npm run compose:secrets', () => {
  it('refuses a folder of files it did not make, and leaves it as it was', async () => {
    mkdirSync(dir, { recursive: true, mode: 0o755 })
    writeFileSync(join(dir, 'notes.txt'), 'someone else')
    await expect(makeComposeSecrets(env())).rejects.toThrow(ComposeDirError)
    expect([mode(dir), existsSync(join(dir, 'secrets.json'))]).toStrictEqual(['755', false])
    // Its own folder, or an empty one, is taken.
    rmSync(join(dir, 'notes.txt'))
    await makeComposeSecrets(env())
    expect(mode(dir)).toBe('700')
    await makeComposeSecrets(env())
    // Stopped after --force removed secrets.json, before the new one: its own files are still its own.
    rmSync(join(dir, 'secrets.json'))
    await makeComposeSecrets(env(), { force: true })
    expect(existsSync(join(dir, 'secrets.json'))).toBe(true)
    // Killed while writing secrets.json: its temporary file is its own as well.
    rmSync(join(dir, 'secrets.json'))
    // (pid 2^22 + 1 is above Linux's pid_max: never a live process)
    const dead = 4194305
    writeFileSync(join(dir, `secrets.json.${dead}.tmp`), '{"partial')
    writeFileSync(join(dir, 'secrets', 'order', `NATS_NKEY_SEED.${dead}.tmp`), 'SU')
    await makeComposeSecrets(env())
    expect(existsSync(join(dir, 'secrets.json'))).toBe(true)
    expect(existsSync(join(dir, `secrets.json.${dead}.tmp`))).toBe(false)
    expect(existsSync(join(dir, 'secrets', 'order', `NATS_NKEY_SEED.${dead}.tmp`))).toBe(false)
  })

  it('makes private folders, mountable secret files and owner-only keys', async () => {
    const { paths } = await makeComposeSecrets(env())
    for (const d of [dir, paths.secretsDir, paths.tlsDir, ...COMPOSE_HOLDERS.map(paths.holderDir)])
      expect([d, mode(d)]).toStrictEqual([d, '700'])
    const secrets = stored()
    for (const holder of COMPOSE_HOLDERS) {
      const names = Object.keys(await serviceSecrets(composeIdentity(holder), secrets))
      for (const name of names) expect(mode(join(paths.holderDir(holder), name))).toBe('644')
    }
    for (const f of [paths.natsAuth, paths.natsRoutes, paths.caFile, paths.certFile, paths.keyFile])
      expect([f, mode(f)]).toStrictEqual([f, '644'])
    for (const f of [paths.secretsJson, paths.operatorEnv, join(paths.tlsDir, 'ca-key.pem')])
      expect([f, mode(f)]).toStrictEqual([f, '600'])
  })

  it('keeps the secrets and the certificate on a second run; --force makes new ones', async () => {
    const first = await makeComposeSecrets(env())
    const ca = read(first.paths.caFile)
    const again = await makeComposeSecrets(env())
    expect(again.created).toStrictEqual({ secrets: false, certificates: false })
    expect(again.operatorEnv).toStrictEqual(first.operatorEnv)
    expect(read(again.paths.caFile)).toBe(ca)
    const forced = await makeComposeSecrets(env(), { force: true })
    expect(forced.created).toStrictEqual({ secrets: true, certificates: true })
    expect(forced.operatorEnv.API_KEY).not.toBe(first.operatorEnv.API_KEY)
    expect(read(forced.paths.caFile)).not.toBe(ca)
  })

  it('takes API_KEY, ADMIN_API_KEY and GATEWAY_SECRET_KEY from the environment, like npm start', async () => {
    const given = { API_KEY: 'sk_mine', ADMIN_API_KEY: 'sk_boss', GATEWAY_SECRET_KEY: 'gw_mine' }
    const { paths, operatorEnv } = await makeComposeSecrets({ ...env(), ...given })
    expect(operatorEnv).toMatchObject(given)
    expect(read(join(paths.holderDir('gateway'), 'GATEWAY_SECRET_KEY'))).toBe('gw_mine')
    expect(fromEnvFile(read(paths.operatorEnv))).toStrictEqual({
      ...given,
      NATS_URL: 'tls://127.0.0.1:4222,tls://127.0.0.1:4223,tls://127.0.0.1:4224',
      NATS_REPLICAS: '3',
      NATS_TLS_CA_FILE: paths.caFile,
      NATS_NKEY_SEED_FILE: join(paths.holderDir('admin'), 'NATS_NKEY_SEED'),
      GRAFANA_ADMIN_PASSWORD: read(paths.grafanaPassword),
    })
  })

  it("makes Grafana's admin password once, or takes GRAFANA_ADMIN_PASSWORD; --force makes a new one", async () => {
    const first = await makeComposeSecrets(env())
    const made = read(first.paths.grafanaPassword)
    expect(made).toMatch(/^[\w-]{24}$/)
    expect(mode(first.paths.grafanaPassword)).toBe('644')
    expect(first.operatorEnv['GRAFANA_ADMIN_PASSWORD']).toBe(made)
    expect(read(first.paths.operatorEnv)).toContain(made)
    expect(read((await makeComposeSecrets(env())).paths.grafanaPassword)).toBe(made)
    const forced = await makeComposeSecrets(env(), { force: true })
    expect(read(forced.paths.grafanaPassword)).not.toBe(made)
    // --force with the env file sourced (its GRAFANA_ADMIN_PASSWORD the kept one): a new one all the same.
    const again = read(forced.paths.grafanaPassword)
    const sourced = await makeComposeSecrets({ ...env(), GRAFANA_ADMIN_PASSWORD: again }, { force: true })
    expect(read(sourced.paths.grafanaPassword)).not.toBe(again)
    const given = await makeComposeSecrets({ ...env(), GRAFANA_ADMIN_PASSWORD: 'correct-horse-battery' })
    expect(read(given.paths.grafanaPassword)).toBe('correct-horse-battery')
    for (const bad of ['admin', 'has a space in it', 'line\nbreak-in-it'])
      await expect(makeComposeSecrets({ ...env(), GRAFANA_ADMIN_PASSWORD: bad })).rejects.toThrow(
        GrafanaPasswordError,
      )
    expect(read(given.paths.grafanaPassword)).toBe('correct-horse-battery')
  })

  it('prints the keys on a terminal only, and the NATS_URL it wrote', () => {
    const keys = {
      API_KEY: 'sk_client_x',
      ADMIN_API_KEY: 'sk_admin_y',
      GATEWAY_SECRET_KEY: 'gk_z',
      GRAFANA_ADMIN_PASSWORD: 'gf_w',
    }
    const base = { what: 'kept the secrets', tls: 'the CA', dir: 'd', envFile: '.local/compose/env' }
    const natsUrl = 'tls://127.0.0.1:14100,tls://127.0.0.1:14101,tls://127.0.0.1:14102'
    const piped = composeSecretsReport({ ...base, natsUrl, keys: undefined })
    for (const value of Object.values(keys)) expect(piped).not.toContain(value)
    expect(piped).toContain('in .local/compose/env (not printed: not a terminal)')
    expect(piped).toContain(`NATS_URL=${natsUrl}`)
    expect(composeSecretsReport({ ...base, natsUrl, keys })).toContain('ADMIN_API_KEY=sk_admin_y')
  })

  it('writes the generated authorization block and the route credentials of every node', async () => {
    const { paths } = await makeComposeSecrets(env())
    const secrets = stored()
    expect(read(paths.natsAuth)).toBe(renderAuthorization(natsPublicKeys(secrets)))
    const routes = read(paths.natsRoutes)
    expect(routes).toContain(`password: ${JSON.stringify(secrets.routePassword)}`)
    for (const node of NATS_NODES)
      expect(routes).toContain(`"nats-route://route:${secrets.routePassword}@${node}:6222"`)
    expect(read(join(paths.holderDir('admin'), 'NATS_NKEY_SEED'))).toBe(secrets.nats.admin.seed)
  })

  it('replaces the empty folder podman leaves where a mounted file was missing', async () => {
    const { paths } = await makeComposeSecrets(env())
    const seed = join(paths.holderDir('payment'), 'NATS_NKEY_SEED')
    await rm(seed)
    await rm(paths.natsRoutes)
    mkdirSync(seed)
    mkdirSync(paths.natsRoutes)
    await makeComposeSecrets(env())
    expect(statSync(seed).isFile()).toBe(true)
    expect(statSync(paths.natsRoutes).isFile()).toBe(true)
  })
})

const tools = findContainerTools()

describe.skipIf('missing' in tools)('compose.yaml and the secrets folder', () => {
  const config = async (): Promise<ComposeModel> => {
    if ('missing' in tools) throw new Error(tools.missing)
    const out = await run(tools.compose, ['-f', 'compose.yaml', 'config', '--format', 'json'], { env: env() })
    return JSON.parse(out.stdout) as ComposeModel
  }

  it('mounts each service exactly its own secrets, as NAME_FILE=/run/secrets/NAME', async () => {
    await makeComposeSecrets(env())
    const model = await config()
    const secrets = stored()
    for (const holder of COMPOSE_HOLDERS) {
      const service = model.services[holder === 'admin' ? 'provision' : holder]
      const names = Object.keys(await serviceSecrets(composeIdentity(holder), secrets)).sort()
      const mounts = (service?.secrets ?? []).filter((s) => s.target !== 'nats-ca.pem')
      expect([holder, mounts.map((s) => s.target).sort()]).toStrictEqual([holder, names])
      for (const { source, target } of mounts) {
        expect(model.secrets[source]?.file).toBe(join(dir, 'secrets', holder, target))
        expect(service?.environment?.[`${target}_FILE`]).toBe(`/run/secrets/${target}`)
      }
    }
    for (const { file } of Object.values(model.secrets))
      expect([file, existsSync(file)]).toStrictEqual([file, true])
  })

  it("gives the observability profile's Grafana its admin password as a file, never a default", async () => {
    if ('missing' in tools) return
    const { paths } = await makeComposeSecrets(env())
    const out = await run(
      tools.compose,
      ['-f', 'compose.yaml', '--profile', 'observability', 'config', '--format', 'json'],
      { env: env() },
    )
    const model = JSON.parse(out.stdout) as ComposeModel
    const grafana = model.services['grafana']
    expect(grafana?.environment?.['GF_SECURITY_ADMIN_PASSWORD']).toBeUndefined()
    expect(grafana?.environment?.['GF_SECURITY_ADMIN_PASSWORD__FILE']).toBe(
      '/run/secrets/grafana-admin-password',
    )
    expect(grafana?.secrets?.map((s) => [s.source, s.target])).toStrictEqual([
      ['grafana-admin-password', '/run/secrets/grafana-admin-password'],
    ])
    expect(model.secrets['grafana-admin-password']?.file).toBe(paths.grafanaPassword)
  })

  it('stops with the missing folder named until compose:secrets has run', async () => {
    if ('missing' in tools) return
    const out = await run(tools.compose, ['-f', 'compose.yaml', 'config'], { env: env(), check: false })
    expect(out.code).not.toBe(0)
    expect(out.stderr).toContain(`env file ${join(dir, 'compose.env')} not found`)
  })
})

interface ComposeModel {
  services: Record<
    string,
    { secrets?: { source: string; target: string }[]; environment?: Record<string, string> }
  >
  secrets: Record<string, { file: string }>
}
