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

process.exit(await runProvision(operatorEnv(process.env).env))
