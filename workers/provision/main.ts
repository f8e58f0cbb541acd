/*
 * `provision`: the admin step that creates or updates every stream, KV bucket
 * and consumer of the saga, then exits (0 when done, 1 with the reason).
 * `npm run provision`, `npm start` and compose run it before the workers;
 * it connects with the admin identity (NATS_NKEY_SEED or NATS_NKEY_SEED_FILE).
 */
import { JetStreamApiError } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import * as v from 'valibot'
import pkg from '../../package.json' with { type: 'json' }
import {
  boolFromEnv,
  ConfigError,
  loadConfig,
  loadOrProblems,
  logLevelFromEnv,
} from '../../shared/config/load-config.ts'
import {
  natsSettings,
  orderDeadlineMsFromEnv,
  retentionProblems,
  toTopologyLimits,
} from '../../shared/config/nats-settings.ts'
import { crossProblemsOfEnv, RETENTION_CHECK } from '../../shared/config/cross-checks.ts'
import { caFileProblems, SECRET_SETTINGS, loadWithSecretFiles } from '../../shared/config/secrets.ts'
import { connectNats, NatsConnectError } from '../../shared/nats/connect.ts'
import { isPermissionViolation } from '../../shared/nats/errors.ts'
import {
  ProvisionRefusedError,
  provisionTopology,
  putBackAfter,
  readTopology,
} from '../../shared/nats/provision.ts'
import { LimitLoweredError, ReplicasLoweredError, TopologyRefusedError } from '../../shared/nats/topology.ts'
import { retryWhileUnavailable } from '../../shared/nats/runtime.ts'
import {
  checkJetStreamEnabled,
  checkNatsServerVersion,
  JetStreamDisabledError,
  NatsServerTooOldError,
} from '../../shared/nats/server-version.ts'
import { createLogger, logFormatProblems } from '../../shared/observability/logger.ts'
import { helpText } from '../../shared/runtime/run-service.ts'
import { natsClientOptions } from '../../shared/security/nats-client-options.ts'
import { NkeySeedError } from '../../shared/security/nkey-signer.ts'

export const ProvisionConfigSchema = v.object({
  ...natsSettings,
  LOG_LEVEL: logLevelFromEnv,
  /**
   * `keep`: a sealed bucket's seal floor is set once, where it has none;
   * `now`: raised to the bucket's last record, which ends the rolling upgrade
   * from a release before seals (docs/security.md, "Record seals").
   */
  RECORD_SEAL_FLOOR: v.optional(v.picklist(['keep', 'now'], 'must be keep or now'), 'keep'),
  /** The inventory's ORDER_DEADLINE_MS: the streams must keep an order's events and deadline longer. */
  ORDER_DEADLINE_MS: orderDeadlineMsFromEnv,
  /**
   * `true`: a size cap below what a stream or bucket holds, or a retention
   * shorter than its oldest event's age, is applied (events deleted, a full
   * bucket's writes refused); by default such a run is refused, naming it.
   */
  PROVISION_ALLOW_SHRINK: boolFromEnv(false),
})

const DESCRIPTION =
  'the admin step: creates or updates every stream, KV bucket and consumer of the saga, then exits (0 done, 1 failed)'

/**
 * `provision [--help | --version]`: with either flag it only prints; any
 * other argument is refused. Nothing is provisioned unless asked for.
 */
export async function runProvision(
  env: Readonly<Record<string, string | undefined>>,
  argv: readonly string[] = [],
): Promise<number> {
  if (argv.includes('--help')) {
    const usage = '[--help | --version]. Without arguments it provisions, then exits.'
    process.stdout.write(
      `${helpText({ name: 'provision', description: DESCRIPTION, schema: ProvisionConfigSchema }, { usage })}\n`,
    )
    return 0
  }
  if (argv.includes('--version')) {
    process.stdout.write(`${pkg.version}\n`)
    return 0
  }
  if (argv.length > 0) {
    process.stderr.write(`provision: unknown argument ${JSON.stringify(argv[0])}; try --help\n`)
    return 1
  }
  let config: v.InferOutput<typeof ProvisionConfigSchema>
  try {
    // LOG_FORMAT is read by the logger, not the schema: its problem is listed with the rest.
    const loaded = loadOrProblems(() =>
      loadWithSecretFiles(
        env,
        // Its own only: a shared environment may name files only the workers mount.
        SECRET_SETTINGS.filter((name) => name in ProvisionConfigSchema.entries),
        (given) => loadConfig(ProvisionConfigSchema, given),
      ),
    )
    const problems = [
      ...('problems' in loaded ? loaded.problems : []),
      ...('config' in loaded ? retentionProblems(loaded.config) : crossProblemsOfEnv(RETENTION_CHECK, env)),
      ...caFileProblems(env),
      ...logFormatProblems(env),
    ]
    if (problems.length > 0 || !('config' in loaded)) throw new ConfigError(problems)
    config = loaded.config
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`provision: ${error.message}\n`)
    return 1
  }
  const logger = createLogger({ service: 'provision', level: config.LOG_LEVEL })
  try {
    const { nc } = await connectNats({
      connect,
      servers: config.NATS_URL,
      name: 'provision',
      logger,
      maxWaitMs: config.NATS_CONNECT_TIMEOUT_MS,
      options: natsClientOptions(config),
    })
    try {
      checkNatsServerVersion(nc.info, nc.getServer())
      const timeoutMs = config.NATS_REQUEST_TIMEOUT_MS
      await checkJetStreamEnabled(nc, timeoutMs)
      // Once, before any attempt: what a refused run puts back.
      const before = await retryWhileUnavailable(
        () => readTopology(nc, timeoutMs),
        config.NATS_CONNECT_TIMEOUT_MS,
        logger,
      )
      const report = await retryWhileUnavailable(
        () =>
          provisionTopology(
            nc,
            { ...toTopologyLimits(config), allowShrink: config.PROVISION_ALLOW_SHRINK },
            {
              timeoutMs,
              release: pkg.version,
              raiseSealFloor: config.RECORD_SEAL_FLOOR === 'now',
              before,
            },
          ),
        config.NATS_CONNECT_TIMEOUT_MS,
        logger,
      ).catch(async (error: unknown) => {
        // Still refused when the wait ran out (a cluster that cannot place a stream): put back too.
        throw error instanceof TopologyRefusedError ? await putBackAfter(nc, error, before, timeoutMs) : error
      })
      const { warnings, ...provisioned } = report
      for (const warning of warnings) logger.warn(warning)
      logger.info({ ...provisioned, replicas: config.NATS_REPLICAS }, 'provisioned')
      return 0
    } finally {
      await nc.close()
    }
  } catch (error) {
    // A server too old, or none reachable in time: one line that says which.
    if (
      error instanceof NatsServerTooOldError ||
      error instanceof JetStreamDisabledError ||
      error instanceof NatsConnectError ||
      error instanceof ReplicasLoweredError ||
      error instanceof LimitLoweredError
    ) {
      process.stderr.write(`provision: ${error.message}\n`)
      return 1
    }
    if (error instanceof NkeySeedError) {
      process.stderr.write(`provision: NATS_NKEY_SEED: ${error.message}\n`)
      return 1
    }
    // An identity without the admin's rights (a service's seed): one line, no stack.
    if (isPermissionViolation(error)) {
      process.stderr.write(
        `provision: nats-server refused this identity (${error instanceof Error ? error.message : String(error)}): the provision step needs the admin identity's NATS_NKEY_SEED\n`,
      )
      return 1
    }
    // nats-server refused a stream or bucket as configured: which, what was put back, what to look at.
    if (error instanceof ProvisionRefusedError) {
      process.stderr.write(
        `provision: nats-server refused the topology: ${error.message}; ${refusalHint(error.refusal.cause.message)}\n`,
      )
      return 1
    }
    // A consumer refused as configured: the settings that shape them.
    if (error instanceof JetStreamApiError) {
      process.stderr.write(
        `provision: nats-server refused the topology: ${error.message}; ${refusalHint(error.message)}\n`,
      )
      return 1
    }
    logger.error({ err: error }, 'provisioning failed')
    return 1
  }
}

/** Which settings to look at for a refusal of JetStream's API. */
function refusalHint(message: string): string {
  if (/replicas/i.test(message))
    return 'NATS_REPLICAS must be 1 on a single server and at most the cluster size (docs/configuration.md)'
  // An existing stream nats-server cannot turn into this release's (before the capacity check: "storage type").
  if (/can ?not change|overlap|already in use|already exists/i.test(message))
    return "a stream of that name, or one on the same subjects, was not made by this provision step and nats-server cannot change it into this release's (storage, retention, subjects): keep what it holds, remove or rename it with the nats CLI, then provision again"
  if (/insufficient|resources|max.?bytes|storage/i.test(message))
    return "STREAM_MAX_BYTES and the KV_*_MAX_BYTES settings must fit the server's JetStream max_file_store (docs/configuration.md)"
  return "check NATS_REPLICAS, STREAM_MAX_AGE_MS, STREAM_MAX_BYTES, STREAM_DUPLICATE_WINDOW_MS, the CONSUMER_* and KV_*_MAX_BYTES settings (docs/configuration.md), and the server's JetStream limits"
}

if (import.meta.main) void runProvision(process.env, process.argv.slice(2)).then((code) => process.exit(code))
