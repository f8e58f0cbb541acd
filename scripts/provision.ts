// `npm run provision`: the admin step (workers/provision/main.ts) against the
// running npm start (its NATS URL and admin identity from .local/run), or the
// NATS_URL and NATS_NKEY_SEED[_FILE] given in the environment.
import { runProvision } from '../workers/provision/main.ts'
import { handleHelp } from './lib/help.ts'
import { operatorEnv } from './start/run-dir.ts'

handleHelp(
  process.argv.slice(2),
  `usage: npm run provision
  creates or updates every stream, KV bucket and consumer of the saga (admin identity), then exits
environment: NATS_URL (default: the running npm start's), NATS_NKEY_SEED or NATS_NKEY_SEED_FILE (admin),
  NATS_REPLICAS, the stream and bucket limits of docs/configuration.md, ORDER_SAGA_STATE_DIR (default .local/run)`,
)

const { env, natsUrlFrom } = operatorEnv(process.env)
// No npm start running and no NATS_URL: the default server is tried for a few
// seconds, not the services' five minutes of waiting for a starting cluster.
const defaulted = process.env['NATS_URL'] === undefined && natsUrlFrom.startsWith('the default')
const code = await runProvision(
  defaulted && env['NATS_CONNECT_TIMEOUT_MS'] === undefined
    ? { ...env, NATS_CONNECT_TIMEOUT_MS: '5000' }
    : env,
)
if (code !== 0 && defaulted) console.error(`provision: NATS_URL was ${natsUrlFrom}`)
process.exit(code)
