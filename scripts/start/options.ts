// `npm start`'s command line and environment, read and checked all at once.
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ConfigError } from '../../shared/config/load-config.ts'
import { logFormatFromEnv, type LogFormat } from '../../shared/observability/logger.ts'
import { RUNTIMES, type Runtime } from '../runtime-commands.ts'
import { readEnvFile, stateDir } from './run-dir.ts'

type Env = Readonly<Record<string, string | undefined>>

export const WORKERS = ['gateway', 'order', 'inventory', 'payment', 'analytics', 'console'] as const
export type WorkerName = (typeof WORKERS)[number]

export interface PortSetting {
  /** The environment variable that sets it. */
  variable: string
  port: number
  /** Unset variable: another free port may be taken when this one is busy (NATS only). */
  mayFallBack: boolean
}

export interface StartOptions {
  help: boolean
  runtime: Runtime
  fresh: boolean
  host: string
  stateDir: string
  /** NATS_URL: an outside server; no nats-server is started. */
  natsUrl: string | undefined
  nats: PortSetting
  natsWs: PortSetting
  natsMonitor: PortSetting
  workers: Record<WorkerName, PortSetting>
  /** LOG_FORMAT for the workers: as set, else pretty on a terminal, else unset (JSON). */
  logFormat: LogFormat | undefined
  /** PAYMENT_GATEWAY_URL: a gateway other than the sandbox started here. */
  paymentGatewayUrl: string | undefined
}

export const USAGE = `usage: npm start [-- [--runtime=bun|node|deno] [--fresh]]
  --runtime=node   workers as Node bundles (npm run start:node builds them first)
  --runtime=deno   workers on Deno (npm run start:deno)
  --fresh          remove the saved state (.local/run: streams, KV, env file) first
environment: NATS_PORT (4222) NATS_WS_PORT (4223) NATS_MONITOR_PORT (8222) ORDER_PORT (3000) INVENTORY_PORT (3001)
  PAYMENT_PORT (3002) GATEWAY_PORT (3003) ANALYTICS_PORT (3005)
  CONSOLE_PORT (3006) HOST (127.0.0.1) NATS_URL (use that server, start none)
  PAYMENT_GATEWAY_URL LOG_FORMAT (json|pretty; pretty on a terminal) ORDER_SAGA_STATE_DIR (.local/run)
  API_KEY ADMIN_API_KEY GATEWAY_SECRET_KEY (instead of the generated development keys)
  NATS_SERVER_BIN (the nats-server to run); any service setting (docs/configuration.md) reaches the workers`

const WORKER_PORTS: Record<WorkerName, [string, number]> = {
  order: ['ORDER_PORT', 3000],
  inventory: ['INVENTORY_PORT', 3001],
  payment: ['PAYMENT_PORT', 3002],
  gateway: ['GATEWAY_PORT', 3003],
  analytics: ['ANALYTICS_PORT', 3005],
  console: ['CONSOLE_PORT', 3006],
}

const set = (value: string | undefined): value is string => value !== undefined && value !== ''

export type ParsedStartOptions = { ok: true; options: StartOptions } | { ok: false; problems: string[] }

export function parseStartOptions(argv: readonly string[], env: Env, isTTY: boolean): ParsedStartOptions {
  const problems: string[] = []
  const port = (variable: string, fallback: number, mayFallBack = false): PortSetting => {
    const value = env[variable]
    if (!set(value)) return { variable, port: fallback, mayFallBack }
    if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535)
      problems.push(`${variable} must be a port number from 1 to 65535, got ${JSON.stringify(value)}`)
    return { variable, port: Number(value), mayFallBack: false }
  }
  let runtime: Runtime = 'bun'
  let fresh = false
  let help = false
  for (const arg of argv) {
    if (arg === '--fresh') fresh = true
    else if (arg === '--help' || arg === '-h') help = true
    else if (arg.startsWith('--runtime=')) {
      const given = arg.slice('--runtime='.length)
      const found = RUNTIMES.find((r) => r === given)
      if (found === undefined)
        problems.push(`--runtime must be one of ${RUNTIMES.join(', ')}, got ${JSON.stringify(given)}`)
      else runtime = found
    } else problems.push(`unknown argument ${JSON.stringify(arg)}`)
  }
  let logFormat: LogFormat | undefined
  try {
    logFormat = set(env['LOG_FORMAT']) ? logFormatFromEnv(env) : isTTY ? 'pretty' : undefined
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    problems.push(...error.problems)
  }
  const workers = Object.fromEntries(WORKERS.map((w) => [w, port(...WORKER_PORTS[w])])) as Record<
    WorkerName,
    PortSetting
  >
  const dir = stateDir(env)
  if (existsSync(dir) && !statSync(dir).isDirectory())
    problems.push(
      `ORDER_SAGA_STATE_DIR: ${dir} is a file, not a folder (name a folder; it is made if missing)`,
    )
  const options: StartOptions = {
    help,
    runtime,
    fresh,
    host: set(env['HOST']) ? env['HOST'] : '127.0.0.1',
    stateDir: dir,
    natsUrl: set(env['NATS_URL']) && !isOwnNatsUrl(env) ? env['NATS_URL'] : undefined,
    nats: port('NATS_PORT', 4222, true),
    natsWs: port('NATS_WS_PORT', 4223, true),
    natsMonitor: port('NATS_MONITOR_PORT', 8222, true),
    workers,
    logFormat,
    paymentGatewayUrl: set(env['PAYMENT_GATEWAY_URL']) ? env['PAYMENT_GATEWAY_URL'] : undefined,
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, options }
}

/**
 * NATS_URL came from sourcing the env file of an earlier npm start of this
 * state folder, which ran its own server: that is no outside server. So is
 * one sourced from a file since wiped (`npm run reset`): only npm start
 * writes the marker, and nothing in the folder says otherwise.
 */
function isOwnNatsUrl(env: Env): boolean {
  if (env['ORDER_SAGA_NATS'] !== 'own') return false
  const written = readEnvFile(stateDir(env))
  if (written['NATS_URL'] === undefined) return true
  return written['ORDER_SAGA_NATS'] === 'own' && written['NATS_URL'] === env['NATS_URL']
}

/** `--runtime=node` runs the bundles `npm run build:node` writes: missing ones are named before anything starts. */
export function nodeBundleProblems(options: Pick<StartOptions, 'runtime'>, root: string): string[] {
  if (options.runtime !== 'node') return []
  const missing = WORKERS.map((w) => join('dist', 'node', `${w}.js`)).filter(
    (f) => !existsSync(join(root, f)),
  )
  return missing.length === 0
    ? []
    : [
        `--runtime=node runs the Node bundles, and ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing: ` +
          'run `npm run start:node` (it builds them first) or `npm run build:node`',
      ]
}
