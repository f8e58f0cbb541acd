import * as v from 'valibot'
import {
  bindHostFromEnv,
  fractionFromEnv,
  intFromEnv,
  loadConfig,
  logLevelFromEnv,
} from '../../shared/config/load-config.ts'
import { secretKeyFromEnv } from '../../shared/http/api-keys.ts'
import { rateLimitSettings } from '../../shared/http/rate-limit.ts'

type Env = Readonly<Record<string, string | undefined>>

/**
 * The sandbox's settings, one environment variable each. Waits are capped
 * below Bun's 30 s idle timeout (shared/runtime/server.ts), which would
 * otherwise cut a waiting request's connection.
 */
export const gatewayConfigSchema = v.object({
  PORT: intFromEnv(3003, 0, 65_535),
  HOST: bindHostFromEnv,
  LOG_LEVEL: logLevelFromEnv,
  GATEWAY_FAILURE_RATE: fractionFromEnv(0),
  GATEWAY_SLOW_RATE: fractionFromEnv(0),
  GATEWAY_DROP_RATE: fractionFromEnv(0),
  GATEWAY_ERROR_AFTER_CHARGE_RATE: fractionFromEnv(0),
  GATEWAY_LATENCY_MS: intFromEnv(0, 0, 5_000),
  GATEWAY_SLOW_MS: intFromEnv(10_000, 0, 20_000),
  GATEWAY_FLAKY_FAILURES: intFromEnv(2, 0, 100),
  GATEWAY_SECRET_KEY: secretKeyFromEnv,
  GATEWAY_MAX_BODY_BYTES: intFromEnv(16 * 1024, 1024, 1024 * 1024),
  SHUTDOWN_TIMEOUT_MS: intFromEnv(10_000, 100, 600_000),
  GATEWAY_LEDGER_FILE: v.optional(
    v.pipe(
      v.string(),
      v.check((path) => path.trim() === path, 'must be a file path without leading or trailing spaces'),
    ),
  ),
  /** Failed attempts per client address (the right key is not limited). */
  ...rateLimitSettings,
})

export interface GatewayConfig {
  /** 0 binds a free port. */
  port: number
  host: string
  logLevel: string
  /** Probability of answering 503 to a charge or refund, before anything is written. */
  failureRate: number
  /** Probability that a new charge attempt waits like `tok_slow`. */
  slowRate: number
  /** Probability that a settled charge attempt's connection is cut, like `tok_drop`. */
  dropRate: number
  /** Probability that a settled charge attempt answers 500, like `tok_error_after_charge`. */
  errorAfterChargeRate: number
  /** Added to every charge attempt. */
  latencyMs: number
  /** How long `tok_slow` (and GATEWAY_SLOW_RATE) waits before the attempt is decided. */
  slowMs: number
  /** How many attempts per order `tok_flaky` answers 503 before it succeeds. */
  flakyFailures: number
  /** Every charge route wants `Authorization: Bearer <secretKey>`, like a real processor. */
  secretKey: string
  /** Largest request body on any route. */
  maxBodyBytes: number
  /** Longest a stop may take: requests still open then are cut and the process exits 1. */
  shutdownTimeoutMs: number
  /** The journal (journal.ts) that keeps the ledger across restarts; undefined: memory only. */
  ledgerFile: string | undefined
  /** Failed attempts (a wrong or missing key) each client address gets back per second. */
  rateLimitPerSecond: number
  /** Failed attempts a client address may make at once. */
  rateLimitBurst: number
}

/** Every variable, for `--help` and the README. */
export const gatewayEnvHelp = [
  ['PORT', '3003', 'port to listen on; 0 picks a free one'],
  ['HOST', '127.0.0.1', 'address to bind'],
  ['LOG_LEVEL', 'info', 'fatal, error, warn, info, debug, trace or silent'],
  ['GATEWAY_FAILURE_RATE', '0', 'probability (0..1) of answering 503 to a charge or refund, nothing written'],
  [
    'GATEWAY_SLOW_RATE',
    '0',
    'probability (0..1) that a new charge attempt waits GATEWAY_SLOW_MS like tok_slow',
  ],
  ['GATEWAY_DROP_RATE', '0', 'probability (0..1) that a charge attempt is written, then its connection cut'],
  [
    'GATEWAY_ERROR_AFTER_CHARGE_RATE',
    '0',
    'probability (0..1) that a charge attempt is written, then answered 500 internal_error',
  ],
  ['GATEWAY_LATENCY_MS', '0', 'latency added to every charge attempt (max 5000)'],
  ['GATEWAY_SLOW_MS', '10000', 'how long tok_slow waits before answering (max 20000)'],
  ['GATEWAY_FLAKY_FAILURES', '2', 'attempts per order that tok_flaky answers 503 (max 100)'],
  [
    'GATEWAY_SECRET_KEY',
    '(required)',
    'bearer token every charge route wants; or GATEWAY_SECRET_KEY_FILE, a file holding it',
  ],
  ['GATEWAY_MAX_BODY_BYTES', '16384', 'largest request body on any route (1024..1048576)'],
  ['SHUTDOWN_TIMEOUT_MS', '10000', 'upper bound on a graceful stop (100..600000)'],
  [
    'GATEWAY_LEDGER_FILE',
    '(unset)',
    'JSON-lines journal that keeps the ledger across restarts; unset: memory only',
  ],
  ['RATE_LIMIT_PER_SECOND', '100', 'failed attempts (wrong or missing key) per second per client address'],
  ['RATE_LIMIT_BURST', '200', 'failed attempts a client address may make at once'],
] as const

/** Throws ConfigError listing every bad variable. */
export function loadGatewayConfig(env: Env): GatewayConfig {
  const raw = loadConfig(gatewayConfigSchema, env)
  return {
    port: raw.PORT,
    host: raw.HOST,
    logLevel: raw.LOG_LEVEL,
    failureRate: raw.GATEWAY_FAILURE_RATE,
    slowRate: raw.GATEWAY_SLOW_RATE,
    dropRate: raw.GATEWAY_DROP_RATE,
    errorAfterChargeRate: raw.GATEWAY_ERROR_AFTER_CHARGE_RATE,
    latencyMs: raw.GATEWAY_LATENCY_MS,
    slowMs: raw.GATEWAY_SLOW_MS,
    flakyFailures: raw.GATEWAY_FLAKY_FAILURES,
    secretKey: raw.GATEWAY_SECRET_KEY,
    maxBodyBytes: raw.GATEWAY_MAX_BODY_BYTES,
    shutdownTimeoutMs: raw.SHUTDOWN_TIMEOUT_MS,
    ledgerFile: raw.GATEWAY_LEDGER_FILE,
    rateLimitPerSecond: raw.RATE_LIMIT_PER_SECOND,
    rateLimitBurst: raw.RATE_LIMIT_BURST,
  }
}
