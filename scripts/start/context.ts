// What npm start knows about the stack it runs, each worker's environment (one
// function), and the steps that run once NATS is up and before any worker starts.
import { join } from 'node:path'
import type { Runtime } from '../runtime-commands.ts'
import type { StartOptions, WorkerName } from './options.ts'
import { SECRET_SETTINGS } from '../../shared/config/secrets.ts'
import type { DeploymentSecrets } from '../../shared/security/deployment-secrets.ts'
import { runProvision } from '../../workers/provision/main.ts'
import { stateDir, writeEnvFile } from './run-dir.ts'
import { applySecrets } from './secrets.ts'

export interface StackContext {
  runtime: Runtime
  stateDir: string
  host: string
  /** `monitorUrl`: nats-server's monitoring port (`/connz`, `/jsz`), when npm start runs the server. */
  nats: { url: string; wsUrl: string | null; monitorUrl: string | null }
  urls: Record<WorkerName, string>
  ports: Record<WorkerName, number>
  paymentGatewayUrl: string
  logFormat: StartOptions['logFormat']
  /**
   * The env file's entries (`.local/run/env`, for the user's shell and the
   * operator commands): steps add theirs (credentials, API keys).
   */
  operatorEnv: Record<string, string>
  /** Added to one worker's environment: steps add theirs (credentials, keys). */
  workerSecrets: Record<WorkerName, Record<string, string>>
}

export function createContext(options: StartOptions, nats: StackContext['nats']): StackContext {
  const { host } = options
  const ports = Object.fromEntries(
    Object.entries(options.workers).map(([name, setting]) => [name, setting.port]),
  ) as Record<WorkerName, number>
  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  const urls = Object.fromEntries(
    Object.entries(ports).map(([name, port]) => [name, `http://${urlHost}:${port}`]),
  ) as Record<WorkerName, string>
  return {
    runtime: options.runtime,
    stateDir: options.stateDir,
    host,
    nats,
    urls,
    ports,
    paymentGatewayUrl: options.paymentGatewayUrl ?? urls.gateway,
    logFormat: options.logFormat,
    operatorEnv: {
      NATS_URL: nats.url,
      // Whether NATS_URL is npm start's own server: a shell that sourced this
      // file and runs npm start again must not take it for an outside server.
      ORDER_SAGA_NATS: nats.wsUrl === null ? 'outside' : 'own',
      ...(nats.wsUrl === null ? {} : { NATS_WS_URL: nats.wsUrl }),
      ...(nats.monitorUrl === null ? {} : { NATS_MONITOR_URL: nats.monitorUrl }),
      ORDER_URL: urls.order,
      INVENTORY_URL: urls.inventory,
      PAYMENT_URL: urls.payment,
      GATEWAY_URL: urls.gateway,
      ANALYTICS_URL: urls.analytics,
      CONSOLE_URL: urls.console,
      // A state folder of its own: the operator commands of a shell that sources this file find it.
      ...(options.stateDir === stateDir({}) ? {} : { ORDER_SAGA_STATE_DIR: options.stateDir }),
    },
    workerSecrets: { gateway: {}, order: {}, inventory: {}, payment: {}, analytics: {}, console: {} },
  }
}

/**
 * What a worker inherits from npm start's environment: everything but the
 * secrets (each worker gets only its own, as files) and the operator's
 * settings from a sourced env file. `GATEWAY_SECRET_KEY=... npm start` would
 * otherwise hand the gateway both NAME and NAME_FILE.
 */
export function inheritedEnv(
  env: Readonly<Record<string, string | undefined>>,
): Record<string, string | undefined> {
  const dropped = new Set<string>([
    ...SECRET_SETTINGS.flatMap((name) => [name, `${name}_FILE`]),
    ...OPERATOR_SETTINGS,
  ])
  return Object.fromEntries(Object.entries(env).filter(([name]) => !dropped.has(name)))
}

/**
 * Secrets set on npm start's command line that it does not use (it gives each
 * worker its own from the state folder's secrets.json), to say so; the three
 * keys it does take are not among them.
 */
export function ignoredSecrets(
  env: Readonly<Record<string, string | undefined>>,
  /** The state folder's env file: what sourcing it exported (the admin seed file) is not worth a word. */
  written: Readonly<Record<string, string>> = {},
): string[] {
  const taken = new Set(['API_KEY', 'ADMIN_API_KEY', 'GATEWAY_SECRET_KEY'])
  return SECRET_SETTINGS.flatMap((name) => [name, `${name}_FILE`]).filter(
    (name) => env[name] !== undefined && !taken.has(name) && env[name] !== written[name],
  )
}

/** Settings npm start reads for itself or writes for the operator's shell, never for a worker. */
const OPERATOR_SETTINGS = [
  'API_KEY',
  'ADMIN_API_KEY',
  'NATS_URL',
  'NATS_WS_URL',
  'NATS_MONITOR_URL',
  'ORDER_URL',
  'INVENTORY_URL',
  'PAYMENT_URL',
  'GATEWAY_URL',
  'ANALYTICS_URL',
  'CONSOLE_URL',
  'ORDER_SAGA_NATS',
] as const

/** The environment a worker gets on top of npm start's own. */
export function workerEnv(worker: WorkerName, ctx: StackContext): Record<string, string> {
  return {
    ...ctx.workerSecrets[worker],
    NATS_URL: ctx.nats.url,
    HOST: ctx.host,
    PORT: String(ctx.ports[worker]),
    ...(ctx.logFormat === undefined ? {} : { LOG_FORMAT: ctx.logFormat }),
    ...(worker === 'payment' ? { PAYMENT_GATEWAY_URL: ctx.paymentGatewayUrl } : {}),
    ...(worker === 'gateway' ? gatewayLedgerFile(ctx) : {}),
    ...(worker === 'order' || worker === 'inventory' ? shopCurrency(worker) : {}),
    // The console calls the intake's cancellation API and reads the payment breaker.
    ...(worker === 'console'
      ? { CONSOLE_ORDER_URL: ctx.urls.order, CONSOLE_PAYMENT_URL: ctx.urls.payment }
      : {}),
  }
}

/** Settings of the order intake that the edge intake (`npm run dev:edge`) reads too. */
export const SHARED_INTAKE_SETTINGS = [
  'ORDER_CREATED_VERSIONS',
  'ORDER_CURRENCY',
  'ORDER_EXPRESS_KEYS',
] as const

/** The values of {@link SHARED_INTAKE_SETTINGS} the order service runs with (set ones only). */
export function intakeSettings(): Record<string, string> {
  const env: Record<string, string | undefined> = { ...process.env, ...shopCurrency('order') }
  return Object.fromEntries(
    SHARED_INTAKE_SETTINGS.flatMap((name) => {
      const value = env[name]
      return value === undefined || value === '' ? [] : [[name, value]]
    }),
  )
}

/** A variable's value; an empty one is unset. */
function setting(env: Record<string, string | undefined>, name: string): string | undefined {
  const value = env[name]
  return value === undefined || value === '' ? undefined : value
}

/**
 * Both currencies set, and different: the intake would take orders in one
 * currency that the inventory prices (and the payment worker charges) in
 * another. Refused before anything starts.
 */
export function currencyProblem(env: Record<string, string | undefined> = process.env): string | undefined {
  const [order, inventory] = [setting(env, 'ORDER_CURRENCY'), setting(env, 'INVENTORY_CURRENCY')]
  if (order === undefined || inventory === undefined || order === inventory) return undefined
  return (
    `ORDER_CURRENCY (${order}) and INVENTORY_CURRENCY (${inventory}) differ: the stock is priced and ` +
    'charged in INVENTORY_CURRENCY, so set one of them only (npm start gives it to both), or both the same'
  )
}

/**
 * One shop, one currency: whichever of ORDER_CURRENCY and INVENTORY_CURRENCY
 * is set names it for both the intake and the inventory (both set must agree,
 * {@link currencyProblem}). Neither set: both services' default.
 */
export function shopCurrency(
  worker: 'order' | 'inventory',
  env: Record<string, string | undefined> = process.env,
): Record<string, string> {
  const currency = setting(env, 'ORDER_CURRENCY') ?? setting(env, 'INVENTORY_CURRENCY')
  if (currency === undefined) return {}
  return worker === 'order' ? { ORDER_CURRENCY: currency } : { INVENTORY_CURRENCY: currency }
}

/**
 * The gateway sandbox keeps its ledger in the state folder (a restarted
 * sandbox still knows its charges), unless GATEWAY_LEDGER_FILE is set (it is
 * inherited then). On Deno too: its workers may write to the state folder.
 */
function gatewayLedgerFile(ctx: StackContext): Record<string, string> {
  const given = process.env['GATEWAY_LEDGER_FILE']
  if (given !== undefined && given !== '') return {}
  return { GATEWAY_LEDGER_FILE: join(ctx.stateDir, 'gateway-ledger.jsonl') }
}

export interface StartStep {
  name: string
  run: (ctx: StackContext) => void | Promise<void>
}

/** The admin's provision step: streams, KV buckets and consumers, before any worker. */
async function provision(ctx: StackContext, secrets: DeploymentSecrets): Promise<void> {
  const code = await runProvision({
    // The stack's limits (NATS_REPLICAS, STREAM_*, CONSUMER_*) as the workers get them.
    ...inheritedEnv(process.env),
    NATS_URL: ctx.nats.url,
    NATS_NKEY_SEED: secrets.nats.admin.seed,
    NATS_CONNECT_TIMEOUT_MS: '30000',
    LOG_LEVEL: 'warn',
  })
  if (code !== 0) throw new Error('the provision step failed (see its log above)')
}

/**
 * Run in order once NATS is up and before the first worker starts: each
 * worker's credentials and keys, provisioning, then the env file for the
 * user's shell and the operator commands.
 */
export function beforeWorkers(secrets: DeploymentSecrets): readonly StartStep[] {
  return [
    { name: 'secrets', run: applySecrets(secrets) },
    { name: 'provision', run: (ctx) => provision(ctx, secrets) },
    { name: 'env file', run: (ctx) => void writeEnvFile(ctx.stateDir, ctx.operatorEnv) },
  ]
}
