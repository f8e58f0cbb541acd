// What npm start knows about the stack it runs, each worker's environment (one
// function), and the steps that run once NATS is up and before any worker starts.
import type { Runtime } from '../runtime-commands.ts'
import type { StartOptions, WorkerName } from './options.ts'
import { writeEnvFile } from './run-dir.ts'
import { loadSealingKeys } from './sealing-keys.ts'

export interface StackContext {
  runtime: Runtime
  stateDir: string
  host: string
  nats: { url: string; wsUrl: string | null }
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
      ...(nats.wsUrl === null ? {} : { NATS_WS_URL: nats.wsUrl }),
      ORDER_URL: urls.order,
    },
    workerSecrets: { gateway: {}, order: {}, inventory: {}, payment: {} },
  }
}

/** The environment a worker gets on top of npm start's own. */
export function workerEnv(worker: WorkerName, ctx: StackContext): Record<string, string> {
  return {
    ...ctx.workerSecrets[worker],
    NATS_URL: ctx.nats.url,
    HOST: ctx.host,
    PORT: String(ctx.ports[worker]),
    ...(ctx.logFormat === undefined ? {} : { LOG_FORMAT: ctx.logFormat }),
    ...(worker === 'payment' ? { PAYMENT_GATEWAY_URL: ctx.paymentGatewayUrl } : {}),
  }
}

export interface StartStep {
  name: string
  run: (ctx: StackContext) => void | Promise<void>
}

/**
 * Run in order once NATS is up and before the first worker starts: the place
 * for provisioning (streams, credentials, keys). Steps that add env file
 * entries go before `env file`.
 */
export const BEFORE_WORKERS: readonly StartStep[] = [
  { name: 'sealing keys', run: loadSealingKeys },
  { name: 'env file', run: (ctx) => void writeEnvFile(ctx.stateDir, ctx.operatorEnv) },
]
